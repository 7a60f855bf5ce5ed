/**
 * POST /admin/dead-letters/redrive: puts the events of the dead-letter queues back on the bus, and
 * deletes each message once the bus accepted its event. Re-putting reaches every rule that matches
 * (not only the target that failed); that is safe because every Trellis consumer is idempotent
 * (the audit log and the outbox dedupe on `eventId`, policy sync is level-triggered, an SVID request
 * that already ended is not issued again). A message whose body is not an event stays, and is listed.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { AdminDeps } from './deps';
import { eventOf } from './dead-letter-queues';

export interface RedriveReport {
  redriven: { queue: string; messageId: string; detailType: string; eventId?: string }[];
  kept: { queue: string; messageId: string; reason: string }[];
}

export async function redriveDeadLetters(deps: AdminDeps, options: { queues: readonly string[]; limit: number }): Promise<RedriveReport> {
  const report: RedriveReport = { redriven: [], kept: [] };
  for (const queue of options.queues) {
    const budget = options.limit - report.redriven.length - report.kept.length;
    if (budget <= 0) break;
    // Hidden for a minute while it is re-driven; one that could not be is made visible again.
    for (const letter of await deps.queues.take(queue, budget, 60)) {
      const event = eventOf(letter);
      if (event === undefined) {
        report.kept.push({ queue, messageId: letter.messageId, reason: 'the message body is not an EventBridge event' });
        await deps.queues.release(letter);
        continue;
      }
      const out = await deps.eventBridge.send(
        new PutEventsCommand({ Entries: [{ EventBusName: deps.busName, Source: event.source, DetailType: event.detailType, Detail: JSON.stringify(event.detail) }] }),
      );
      const entry = out.Entries?.[0];
      if ((out.FailedEntryCount ?? 0) > 0 || entry?.ErrorCode) {
        report.kept.push({ queue, messageId: letter.messageId, reason: `EventBridge refused the event: ${entry?.ErrorCode ?? 'unknown'}: ${entry?.ErrorMessage ?? ''}` });
        await deps.queues.release(letter);
        continue;
      }
      await deps.queues.remove(letter);
      const eventId = (event.detail as { eventId?: unknown }).eventId;
      report.redriven.push({ queue, messageId: letter.messageId, detailType: event.detailType, ...(typeof eventId === 'string' ? { eventId } : {}) });
    }
  }
  return report;
}
