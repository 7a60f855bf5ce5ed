/** Production wiring of the workload use cases: one client per process, from configuration. */
import { dynamoDocumentClient, eventBridge } from '../aws/clients';
import { setting } from '../config';
import { EventBridgePublisher } from '../events/publisher';
import { Outbox } from '../outbox/outbox';
import { WorkloadRepository } from './repository';
import type { WorkloadDeps } from './service';

export function workloadDeps(): WorkloadDeps {
  const db = dynamoDocumentClient();
  return {
    repo: new WorkloadRepository(db, setting('WORKLOADS_TABLE')),
    outbox: new Outbox(db, new EventBridgePublisher(eventBridge(), setting('EVENT_BUS_NAME'))),
  };
}
