/**
 * Target of the rule on every Trellis event: keeps an audit trail (who changed what, which
 * requests ended issued or failed) in the audit table, with a TTL, one log line per event, and the
 * metrics the event stands for (shared/audit/record-event.ts).
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { auditDeps } from '../../shared/audit/deps';
import { recordEvent } from '../../shared/audit/record-event';
import { lambdaHandler } from '../../shared/handler';
import { logger } from '../../shared/logger';

const deps = auditDeps();

export const handler = lambdaHandler(async (event: EventBridgeEvent<string, Record<string, unknown>>): Promise<void> => {
  const eventId = typeof event.detail.eventId === 'string' ? event.detail.eventId : event.id;
  logger.info('trellis event', { detailType: event['detail-type'], eventId, detail: event.detail });
  const { recorded } = await recordEvent(deps, { eventId, detailType: event['detail-type'], time: event.time, detail: event.detail });
  if (!recorded) logger.info('event already recorded (a redelivery)', { eventId });
});
