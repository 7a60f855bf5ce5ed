/**
 * Target of the rule on every Trellis event: keeps an audit trail (who changed what, which
 * requests ended issued or failed) in the audit table, with a TTL, and one log line per event.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { EventBridgeEvent } from 'aws-lambda';
import { dynamoDocumentClient } from '../../shared/aws/clients';
import { lambdaHandler } from '../../shared/handler';
import { setting } from '../../shared/config';
import { logger } from '../../shared/logger';

const table = setting('AUDIT_TABLE');
const db = dynamoDocumentClient();
const RETENTION_SECONDS = 30 * 24 * 3600;

export const handler = lambdaHandler(async (event: EventBridgeEvent<string, Record<string, unknown>>): Promise<void> => {
  const eventId = typeof event.detail.eventId === 'string' ? event.detail.eventId : event.id;
  logger.info('trellis event', { detailType: event['detail-type'], eventId, detail: event.detail });
  await db.send(
    new PutCommand({
      TableName: table,
      Item: {
        eventId,
        detailType: event['detail-type'],
        time: event.time,
        detail: event.detail,
        expiresAt: Math.floor(Date.now() / 1000) + RETENTION_SECONDS,
      },
    }),
  );
});
