/** Production wiring of the grant and service use cases: one client per process, from configuration. */
import { dynamoDocumentClient, eventBridge } from '../aws/clients';
import { setting } from '../config';
import { EventBridgePublisher } from '../events/publisher';
import { Outbox } from '../outbox/outbox';
import { GrantRepository } from './grant-repository';
import type { GrantsDeps } from './service';
import { ServiceRepository } from './service-repository';

export function grantsDeps(): GrantsDeps {
  const db = dynamoDocumentClient();
  return {
    grants: new GrantRepository(db, setting('GRANTS_TABLE')),
    services: new ServiceRepository(db, setting('SERVICES_TABLE')),
    outbox: new Outbox(db, new EventBridgePublisher(eventBridge(), setting('EVENT_BUS_NAME'))),
    configured: setting('MANAGED_SERVICES'),
    trustDomain: setting('TRUST_DOMAIN'),
  };
}
