/** Scheduled: publishes every outbox whose writer could not (EventBridge was down, the Lambda died). */
import { dynamoDocumentClient, eventBridge } from '../../shared/aws/clients';
import { setting } from '../../shared/config';
import { EventBridgePublisher } from '../../shared/events/publisher';
import { lambdaHandler } from '../../shared/handler';
import { logger } from '../../shared/logger';
import { Outbox } from '../../shared/outbox/outbox';

const outbox = new Outbox(dynamoDocumentClient(), new EventBridgePublisher(eventBridge(), setting('EVENT_BUS_NAME')));
const tables: { table: string; keys: string[] }[] = [
  { table: setting('WORKLOADS_TABLE'), keys: ['id'] },
  { table: setting('SVIDS_TABLE'), keys: ['workloadId'] },
  { table: setting('GRANTS_TABLE'), keys: ['service', 'id'] },
  { table: setting('SERVICES_TABLE'), keys: ['name'] },
];
/** Outboxes younger than this are still being flushed by the request that wrote them. */
const GRACE_MS = setting('OUTBOX_GRACE_MS');

export const handler = lambdaHandler(async (): Promise<{ published: number; failed: number }> => {
  let published = 0;
  let failed = 0;
  for (const { table, keys } of tables) {
    const result = await outbox.sweep(table, keys, GRACE_MS);
    published += result.published;
    failed += result.failed;
  }
  logger.info('outbox sweep finished', { published, failed });
  if (failed > 0) throw new Error(`${failed} outbox(es) could not be published; the next sweep retries`);
  return { published, failed };
});
