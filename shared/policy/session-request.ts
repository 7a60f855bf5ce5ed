/**
 * The IAM request a VPC Lattice auth policy judges when a Roles Anywhere session of a SPIFFE ID
 * invokes a service: what the local data plane builds from a real session
 * (local/lattice/data-plane-request.ts), reduced to what a session of the stage's workload role
 * carries for sure. The session's principal tags come from its certificate
 * (local/roles-anywhere/session-tags.ts): x509SAN/URI is the SVID's SPIFFE ID, x509Issuer/OU the
 * issuing CA's OU — assumed equal to the stage's pin when the stage pins one, since Trellis's CA
 * issues every SVID.
 */
import { CONDITION_KEYS, INVOKE_ACTION } from './compiler';
import type { ContextValue, EvaluationRequest } from './evaluator';

export interface SessionCall {
  serviceArn: string;
  /** The stage's Roles Anywhere role, arn:aws:iam::<acct>:role/<path/><name>. */
  roleArn: string;
  issuerOu?: string;
  callerUri: string;
  method: string;
  path: string;
  /** The role session name: Roles Anywhere uses the certificate serial (lowercase hex). Default: a name no certificate has. */
  sessionName?: string;
}

/** Roles Anywhere names the session after the certificate serial; any name matches a role principal the same way. */
const SESSION_NAME = 'trellis-explain';
/** A role unique id ("AROA" + 17 characters) standing for the stage role's: aws:userid is `<role id>:<session name>`. */
const ROLE_ID = 'AROAEXPLAINTRELLIS000';

export function roleSessionRequest(call: SessionCall): EvaluationRequest {
  const role = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(call.roleArn);
  if (!role) throw new Error(`roleSessionRequest: ${call.roleArn} is not a role ARN`);
  const [, partition, account, name] = role;
  const session = call.sessionName ?? SESSION_NAME;
  const context: Record<string, ContextValue> = {
    [CONDITION_KEYS.principalArn]: call.roleArn,
    'aws:PrincipalType': 'AssumedRole',
    'aws:PrincipalAccount': account as string,
    [CONDITION_KEYS.userId]: `${ROLE_ID}:${session}`,
    'aws:SecureTransport': true,
    [CONDITION_KEYS.sanUri]: call.callerUri,
    [CONDITION_KEYS.method]: call.method,
    [CONDITION_KEYS.path]: call.path,
    'vpc-lattice-svcs:ServiceArn': call.serviceArn,
  };
  if (call.issuerOu !== undefined) context[CONDITION_KEYS.issuerOu] = call.issuerOu;
  return {
    principal: `arn:${partition as string}:sts::${account as string}:assumed-role/${name as string}/${session}`,
    action: INVOKE_ACTION,
    resource: `${call.serviceArn}${call.path}`,
    context,
  };
}
