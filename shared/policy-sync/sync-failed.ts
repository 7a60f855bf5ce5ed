/** The PolicySyncFailed event, and how an error is named in it. */
import { pendingEvent } from '../events/catalog';
import { TrellisError } from '../errors';
import type { Trigger } from './deps';

export function failedEvent(service: string, serviceArn: string | null, failure: { code: string; message: string; bytes?: number; limit?: number; suggestions?: string[] }, willRetry: boolean, trigger: Trigger, triggerEventId: string | null) {
  return pendingEvent('PolicySyncFailed', {
    service,
    serviceArn,
    code: failure.code,
    message: failure.message,
    bytes: failure.bytes ?? null,
    limit: failure.limit ?? null,
    suggestions: failure.suggestions ?? [],
    willRetry,
    trigger,
    triggerEventId,
  });
}

export const errorCode = (error: unknown): string => (error instanceof TrellisError ? error.code : error instanceof Error ? error.name : 'Error');
export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
