/**
 * Reading a CloudTrail "AWS API Call via CloudTrail" event of VPC Lattice (PutAuthPolicy,
 * DeleteAuthPolicy, UpdateService): who made the call, and which managed service it touched.
 * Pure functions; the use case is repair-drift.ts. Field names: docs/aws-behaviour.md,
 * "EventBridge › CloudTrail events on the default bus".
 *
 * Why Trellis's own calls are filtered HERE and not in the rule's pattern: the caller's role is in
 * `userIdentity.sessionContext.sessionIssuer.arn`, which only assumed-role sessions have. An
 * `anything-but` on that field matches only when the field exists, so a pattern excluding Trellis's
 * roles would also drop every call by an IAM user or the root user (no sessionContext) — exactly
 * the out-of-band changes this exists to catch — unless it added an `$or` with `exists: false`, a
 * subtle pattern that cannot be unit-tested against real events the way this function is. The cost
 * is one short invocation per Trellis write, which are few (one per grant change, plus repairs).
 */
import { SERVICE_ARN_PATTERN, type StoredService } from '../grants/model';

export const DRIFT_EVENT_NAMES = ['PutAuthPolicy', 'DeleteAuthPolicy', 'UpdateService'] as const;
export type DriftEventName = (typeof DRIFT_EVENT_NAMES)[number];

const SERVICE_ID = /^svc-[0-9a-z]{17}$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The IAM identity behind a call: for an assumed-role session, the role (sessionIssuer.arn,
 * `arn:aws:iam::<acct>:role/<path/name>`); otherwise the principal's own ARN (an IAM user, root).
 */
export function callerOf(userIdentity: unknown): string | undefined {
  if (!isObj(userIdentity)) return undefined;
  const issuer = isObj(userIdentity.sessionContext) && isObj(userIdentity.sessionContext.sessionIssuer) ? str(userIdentity.sessionContext.sessionIssuer.arn) : undefined;
  return issuer ?? str(userIdentity.arn);
}

/** Whether the call was made by one of Trellis's own policy writer roles (never true for a call without an identity). */
export function isTrellisCall(userIdentity: unknown, writerRoleArns: readonly string[]): boolean {
  const caller = callerOf(userIdentity);
  return caller !== undefined && writerRoleArns.includes(caller);
}

/** The identifier the call named: `resourceIdentifier` (auth policy calls) or `serviceIdentifier` (UpdateService); an id or an ARN. */
export function identifierOf(requestParameters: unknown): string | undefined {
  if (!isObj(requestParameters)) return undefined;
  return str(requestParameters.resourceIdentifier) ?? str(requestParameters.serviceIdentifier);
}

/** The managed service an identifier names: by exact ARN, or by service id (the ARN's last segment). */
export function managedServiceOf(identifier: string, services: readonly StoredService[]): StoredService | undefined {
  if (SERVICE_ARN_PATTERN.test(identifier)) return services.find((s) => s.arn === identifier);
  if (SERVICE_ID.test(identifier)) return services.find((s) => s.arn.endsWith(`:service/${identifier}`));
  return undefined;
}

export type DriftDecision =
  | { action: 'reconcile'; service: StoredService; eventName: DriftEventName; caller: string | undefined }
  | { action: 'ignore'; reason: 'not-a-drift-call' | 'failed-call' | 'trellis-call' | 'no-identifier' | 'unmanaged-resource'; identifier?: string; caller?: string };

/** What to do with one CloudTrail event's `detail`: reconcile the managed service it touched, or ignore it (and why). */
export function decideDrift(detail: unknown, services: readonly StoredService[], writerRoleArns: readonly string[]): DriftDecision {
  if (!isObj(detail)) return { action: 'ignore', reason: 'not-a-drift-call' };
  const eventName = str(detail.eventName);
  if (detail.eventSource !== 'vpc-lattice.amazonaws.com' || !(DRIFT_EVENT_NAMES as readonly (string | undefined)[]).includes(eventName)) return { action: 'ignore', reason: 'not-a-drift-call' };
  // A call that failed changed nothing (the rule leaves these out too; kept for a rule edited later).
  if (detail.errorCode !== undefined) return { action: 'ignore', reason: 'failed-call' };
  const caller = callerOf(detail.userIdentity);
  if (isTrellisCall(detail.userIdentity, writerRoleArns)) return { action: 'ignore', reason: 'trellis-call', ...(caller === undefined ? {} : { caller }) };
  const identifier = identifierOf(detail.requestParameters);
  if (identifier === undefined) return { action: 'ignore', reason: 'no-identifier' };
  const service = managedServiceOf(identifier, services);
  if (service === undefined) return { action: 'ignore', reason: 'unmanaged-resource', identifier };
  return { action: 'reconcile', service, eventName: eventName as DriftEventName, caller };
}
