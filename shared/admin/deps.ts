/** What the admin use cases take, and their production wiring. */
import { SQSClient } from '@aws-sdk/client-sqs';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { dynamoDocumentClient, eventBridge } from '../aws/clients';
import { AuditRepository } from '../audit/repository';
import type { StatusDeps } from '../audit/status';
import { setting } from '../config';
import { DeadLetterQueues } from './dead-letter-queues';

export interface AdminDeps {
  queues: DeadLetterQueues;
  eventBridge: EventBridgeClient;
  busName: string;
}

export function adminDeps(): AdminDeps {
  return { queues: new DeadLetterQueues(new SQSClient({}), setting('DEAD_LETTER_QUEUES')), eventBridge: eventBridge(), busName: setting('EVENT_BUS_NAME') };
}

/** GET /status: the audit trail and the dead-letter queues' depths. */
export function statusDeps(queues: DeadLetterQueues): StatusDeps {
  return { audit: new AuditRepository(dynamoDocumentClient(), setting('AUDIT_TABLE')), deadLetters: queues };
}
