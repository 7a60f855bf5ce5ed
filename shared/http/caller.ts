/**
 * Who is calling. In AWS, API Gateway's AWS_IAM authorization puts the verified caller ARN in
 * requestContext.identity.userArn. serverless-offline ignores AWS_IAM, so locally a request
 * arrives without identity: it then acts as LOCAL_UNSIGNED_CALLER_ARN, which only the local
 * stack sets (serverless-offline fills userArn with a non-ARN placeholder, treated as no identity).
 * This is the one place that decision is made.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { setting } from '../config';
import { TrellisError } from '../errors';

export interface Caller {
  /** The caller ARN as API Gateway reports it (an assumed-role session ARN for role callers). */
  arn: string;
  /** The role ARN for an assumed-role session, else the ARN itself. */
  principalArn: string;
  isAdmin: boolean;
}

const ASSUMED_ROLE = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/;

/** arn:aws:sts::1:assumed-role/R/session → arn:aws:iam::1:role/R (what policies name). */
export function principalArnOf(arn: string): string {
  const m = ASSUMED_ROLE.exec(arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : arn;
}

export function callerFromArn(arn: string, admins: readonly string[]): Caller {
  const principalArn = principalArnOf(arn);
  return { arn, principalArn, isAdmin: admins.includes(arn) || admins.includes(principalArn) };
}

/** True when the caller is one of `arns` (listed as session, role or user ARNs). */
export function callerIsOneOf(caller: Caller, arns: readonly string[]): boolean {
  return arns.includes(caller.arn) || arns.includes(caller.principalArn);
}

export function resolveCaller(event: Pick<APIGatewayProxyEvent, 'requestContext'>): Caller {
  // API Gateway's AWS_IAM authorization always supplies an ARN; anything else (serverless-offline
  // puts a placeholder string there) is no verified identity.
  const verified = event.requestContext?.identity?.userArn;
  const arn = verified?.startsWith('arn:') ? verified : setting('LOCAL_UNSIGNED_CALLER_ARN');
  if (!arn) throw new TrellisError('Unauthenticated', 403, 'The request carries no IAM caller identity; sign it with SigV4 (service "execute-api")');
  return callerFromArn(arn, setting('ADMIN_PRINCIPAL_ARNS'));
}

export function requireAdmin(caller: Caller, action: string): void {
  if (!caller.isAdmin) {
    throw new TrellisError('Forbidden', 403, `${caller.arn} may not ${action}: only the administrators listed in the stage parameter "admins" may`);
  }
}
