/** GET /admin/dead-letters: what the dead-letter queues hold, with why each delivery failed. */
import type { AdminDeps } from './deps';
import { eventOf, type DeadLetter } from './dead-letter-queues';

export interface DeadLetterView {
  queue: string;
  messageId: string;
  sentAt?: string;
  /** The event, when the body is one (always, for what Trellis's rules and queues dead-letter). */
  event?: { id?: string; eventId?: string; source: string; detailType: string; detail: unknown; time?: string };
  /** Why EventBridge gave up (the events DLQ's message attributes); absent for the SVID request DLQ. */
  failure?: { rule?: string; target?: string; errorCode?: string; errorMessage?: string; retryAttempts?: string };
  /** The body as received when it is not an event. */
  body?: string;
}

export function viewOf(letter: DeadLetter): DeadLetterView {
  const event = eventOf(letter);
  const a = letter.attributes;
  const failure = Object.keys(a).length === 0 ? undefined : { rule: a.RULE_ARN, target: a.TARGET_ARN, errorCode: a.ERROR_CODE, errorMessage: a.ERROR_MESSAGE, retryAttempts: a.RETRY_ATTEMPTS };
  const eventId = event && typeof event.detail === 'object' && event.detail !== null ? (event.detail as { eventId?: unknown }).eventId : undefined;
  return {
    queue: letter.queue,
    messageId: letter.messageId,
    ...(letter.sentAt ? { sentAt: letter.sentAt } : {}),
    ...(event ? { event: { ...event, ...(typeof eventId === 'string' ? { eventId } : {}) } } : { body: letter.body }),
    ...(failure ? { failure: JSON.parse(JSON.stringify(failure)) as DeadLetterView['failure'] } : {}),
  };
}

export async function listDeadLetters(deps: AdminDeps, options: { queues: readonly string[]; limit: number }): Promise<{ items: DeadLetterView[]; queues: string[] }> {
  const items: DeadLetterView[] = [];
  for (const queue of options.queues) {
    if (items.length >= options.limit) break;
    const letters = await deps.queues.take(queue, options.limit - items.length, 30);
    // Shown, not taken: visible again at once for a re-drive.
    await Promise.all(letters.map((l) => deps.queues.release(l)));
    items.push(...letters.map(viewOf));
  }
  return { items, queues: [...options.queues] };
}
