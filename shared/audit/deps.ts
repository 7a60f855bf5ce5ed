/** What the audit use cases take, and their production wiring. */
import { dynamoDocumentClient } from '../aws/clients';
import { setting } from '../config';
import { PowertoolsMetricsSink, type MetricsSink } from '../metrics/metrics';
import type { AuditEntry } from './model';
import { AuditRepository } from './repository';

export interface AuditLog {
  record(entry: AuditEntry, now: Date): Promise<boolean>;
  since(since: Date): Promise<AuditEntry[]>;
}

export interface AuditDeps {
  audit: AuditLog;
  metrics: MetricsSink;
  now?: () => Date;
}

export const clock = (deps: { now?: () => Date }): Date => (deps.now ? deps.now() : new Date());

export function auditDeps(): AuditDeps {
  return { audit: new AuditRepository(dynamoDocumentClient(), setting('AUDIT_TABLE')), metrics: new PowertoolsMetricsSink() };
}
