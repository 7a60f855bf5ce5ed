/**
 * Issue, as the SVID request queue delivers it: one receive of an SvidRequested message. The
 * issuing itself is issue.ts; this adds what the delivery knows — how many times the message has
 * been received. A failure that is not the last receive is thrown (the message comes back after
 * its visibility timeout); on the last receive the request is ended explicitly (SvidIssuanceFailed,
 * reason `retries-exhausted`) instead, so the message that SQS then moves to the DLQ belongs to a
 * request that already ended.
 */
import type { EventDetail } from '../events/catalog';
import { logger } from '../logger';
import type { IssuerDeps } from './deps';
import { endUnfinished } from './end-unfinished';
import { issueSvid, type IssueBudget, type IssueOutcome } from './issue';

type SvidRequested = EventDetail<'SvidRequested'>;

export interface Delivery {
  /** SQS ApproximateReceiveCount of this message (1 on the first receive). */
  receiveCount: number;
  /** The queue's maxReceiveCount. */
  maxReceives: number;
}

export async function issueDelivered(deps: IssuerDeps, request: SvidRequested, budget: IssueBudget, delivery: Delivery): Promise<IssueOutcome> {
  try {
    return await issueSvid(deps, request, budget);
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (delivery.receiveCount < delivery.maxReceives) {
      logger.warn('SVID issuance attempt failed; the queue delivers the request again', { receiveCount: delivery.receiveCount, maxReceives: delivery.maxReceives, error: message });
      throw error;
    }
    return endUnfinished(deps, request, {
      reason: 'retries-exhausted',
      message: `issuing failed on each of ${delivery.maxReceives} deliveries; the last error was ${message}; submit the CSR again`,
    });
  }
}
