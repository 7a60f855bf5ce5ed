/**
 * Target of the rule on SvidRequested: issues the X.509-SVID through ACM Private CA
 * (shared/svid/issue.ts). Every request ends in SvidIssued or SvidIssuanceFailed; the handler
 * throws (so the delivery is retried) only when the outcome could not be recorded, or when the
 * rate limit's backlog is longer than this invocation can wait.
 */
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { parseDetail } from '../../shared/events/catalog';
import { lambdaHandler } from '../../shared/handler';
import { logger } from '../../shared/logger';
import { issueSvid, type IssueOutcome } from '../../shared/svid/issue';
import { issuerDeps } from '../../shared/svid/deps';

const deps = issuerDeps();
/** Waiting for a rate-limit slot may use up to this share of the remaining time; the rest is for issuing. */
const RATE_WAIT_SHARE = 2 / 3;

export const handler = lambdaHandler(async (event: EventBridgeEvent<'SvidRequested', unknown>, context: Context): Promise<IssueOutcome> => {
  const request = parseDetail('SvidRequested', event.detail);
  // Cleared after the invocation by the chain (injectLambdaContext with resetKeys).
  logger.appendKeys({ workloadId: request.workloadId, requestId: request.requestId });
  const rateWaitDeadline = Date.now() + context.getRemainingTimeInMillis() * RATE_WAIT_SHARE;
  return issueSvid(deps, request, { rateWaitDeadline });
});
