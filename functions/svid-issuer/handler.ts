/**
 * Reads the SVID request queue (SvidRequested, delivered by the rule SvidRequestedRule) and issues
 * the X.509-SVID through ACM Private CA (shared/svid/issue-delivery.ts). The event source's
 * maximumConcurrency bounds how many of these run at once. A record whose attempt throws is
 * reported as a batch item failure, so only it comes back after the visibility timeout; on its
 * last receive its request is ended explicitly instead (SvidIssuanceFailed).
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseDetail } from '../../shared/events/catalog';
import { setting } from '../../shared/config';
import { lambdaHandler } from '../../shared/handler';
import { logger } from '../../shared/logger';
import { issueDelivered } from '../../shared/svid/issue-delivery';
import type { IssueOutcome } from '../../shared/svid/issue';
import { issuerDeps, type IssuerDeps } from '../../shared/svid/deps';

/** Waiting for a rate-limit slot may use up to this share of the remaining time; the rest is for issuing. */
const RATE_WAIT_SHARE = 2 / 3;

/** The handler over given dependencies (the fault suite wraps the production ones). */
export function issuerHandler(deps: IssuerDeps, maxReceives: number) {
  return lambdaHandler(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse & { outcomes: IssueOutcome[] }> => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    // Lambda reads only batchItemFailures; the outcomes are for the logs and tests.
    const outcomes: IssueOutcome[] = [];
    for (const record of event.Records) {
      try {
        const envelope = JSON.parse(record.body) as { detail?: unknown };
        const request = parseDetail('SvidRequested', envelope.detail);
        logger.appendKeys({ workloadId: request.workloadId, requestId: request.requestId });
        const rateWaitDeadline = Date.now() + context.getRemainingTimeInMillis() * RATE_WAIT_SHARE;
        outcomes.push(await issueDelivered(deps, request, { rateWaitDeadline }, { receiveCount: Number(record.attributes.ApproximateReceiveCount), maxReceives }));
      } catch (error) {
        logger.error('SVID request delivery failed; it comes back after the visibility timeout', { messageId: record.messageId, error: error instanceof Error ? error.message : String(error) });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      } finally {
        logger.removeKeys(['workloadId', 'requestId']);
      }
    }
    return { batchItemFailures, outcomes };
  });
}

export const handler = issuerHandler(issuerDeps(), setting('SVID_REQUEST_MAX_RECEIVES'));
