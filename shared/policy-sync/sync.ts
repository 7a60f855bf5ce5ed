/** Sync (the target of GrantChanged and ServiceRegistered): converge the service, then announce the outcome. */
import { pendingEvent } from '../events/catalog';
import { logger } from '../logger';
import { convergeService, type ConvergeResult } from './converge';
import { sha256 } from './compile';
import { DEFAULT_MAX_POLICY_BYTES } from '../policy/compiler';
import type { PolicyDeps, Trigger } from './deps';
import { errorCode, errorText, failedEvent } from './sync-failed';

/**
 * The GrantChanged / ServiceRegistered reaction: converges the service and emits PolicyApplied
 * (also when nothing had to change: `changed: false`) or PolicySyncFailed. A transient failure is
 * reported and rethrown (EventBridge retries the event); an over-size policy is reported once
 * and not retried (only a grant change can fix it). A failure to publish fails the invocation.
 */
export async function syncServicePolicy(deps: PolicyDeps, name: string, trigger: Trigger, triggerEventId: string | null, triggerOccurredAt?: string): Promise<ConvergeResult> {
  let result: ConvergeResult;
  try {
    result = await convergeService(deps, name, { bump: trigger !== 'reconcile' });
  } catch (error) {
    const service = await deps.services.get(name).catch(() => undefined);
    logger.error('policy sync failed; the event is retried', { latticeService: name, error: error instanceof Error ? error : String(error) });
    await deps.publisher.publish([failedEvent(name, service?.arn ?? null, { code: errorCode(error), message: errorText(error) }, true, trigger, triggerEventId)]);
    throw error;
  }
  switch (result.outcome) {
    case 'unknown-service':
      logger.warn('policy sync for a service Trellis does not manage', { latticeService: name });
      await deps.publisher.publish([failedEvent(name, null, { code: 'ServiceNotFound', message: `Trellis manages no service named "${name}"` }, false, trigger, triggerEventId)]);
      break;
    case 'too-large':
      logger.warn('compiled policy over the size limit; the applied policy stays', { latticeService: name, bytes: result.tooLarge.bytes, limit: result.tooLarge.limit });
      await deps.publisher.publish([failedEvent(name, result.service.arn, result.tooLarge, false, trigger, triggerEventId)]);
      break;
    default:
      logger.info('policy synced', { latticeService: name, changed: result.changed, bytes: result.compiled.bytes, version: result.version, iterations: result.iterations });
      await deps.publisher.publish([
        pendingEvent('PolicyApplied', {
          service: name,
          serviceArn: result.service.arn,
          changed: result.changed,
          policySha256: sha256(result.compiled.policy),
          bytes: result.compiled.bytes,
          statements: result.compiled.statements,
          grants: result.grants,
          desiredVersion: result.version,
          trigger,
          triggerEventId,
          ...(triggerOccurredAt === undefined ? {} : { triggerOccurredAt }),
          limit: deps.compile.maxBytes ?? DEFAULT_MAX_POLICY_BYTES,
        }),
      ]);
  }
  return result;
}
