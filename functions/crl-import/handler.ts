/**
 * Target of the rule on ACM Private CA's "ACM Private CA CRL Generation" event (default bus): the
 * CA's new CRL is imported into the stage's Roles Anywhere trust anchor, so a revoked certificate
 * gets no new session. Throwing makes EventBridge retry.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { lambdaHandler } from '../../shared/handler';
import { crlImportDeps } from '../../shared/crl/deps';
import { importCaCrl, type CrlImportResult } from '../../shared/crl/import-crl';

const deps = crlImportDeps();

export const handler = lambdaHandler(async (event: EventBridgeEvent<string, { result?: string }>): Promise<CrlImportResult> =>
  importCaCrl(deps, { resources: event.resources ?? [], detail: event.detail ?? {} }),
);
