/** Scheduled: publishes every outbox whose writer could not (shared/outbox/sweep-outboxes.ts). */
import { dynamoDocumentClient, eventBridge } from '../../shared/aws/clients';
import { setting } from '../../shared/config';
import { EventBridgePublisher } from '../../shared/events/publisher';
import { lambdaHandler } from '../../shared/handler';
import { logger } from '../../shared/logger';
import { PowertoolsMetricsSink } from '../../shared/metrics/metrics';
import { Outbox } from '../../shared/outbox/outbox';
import { sweepOutboxes, type SweepDeps } from '../../shared/outbox/sweep-outboxes';

const deps: SweepDeps = {
  outbox: new Outbox(dynamoDocumentClient(), new EventBridgePublisher(eventBridge(), setting('EVENT_BUS_NAME'))),
  tables: [
    { table: setting('WORKLOADS_TABLE'), keys: ['id'] },
    { table: setting('SVIDS_TABLE'), keys: ['workloadId'] },
    { table: setting('GRANTS_TABLE'), keys: ['service', 'id'] },
    { table: setting('SERVICES_TABLE'), keys: ['name'] },
  ],
  graceMs: setting('OUTBOX_GRACE_MS'),
  metrics: new PowertoolsMetricsSink(),
};

export const handler = lambdaHandler(async (): Promise<{ published: number; failed: number }> => {
  const { published, failed } = await sweepOutboxes(deps);
  logger.info('outbox sweep finished', { published, failed });
  if (failed > 0) throw new Error(`${failed} outbox(es) could not be published; the next sweep retries`);
  return { published, failed };
});
