/** Scheduled: re-drives SVID requests pending too long and ends those that cannot complete (shared/svid/watchdog.ts). */
import type { Context } from 'aws-lambda';
import { setting } from '../../shared/config';
import { lambdaHandler } from '../../shared/handler';
import { issuerDeps } from '../../shared/svid/deps';
import { redrivePending, type WatchdogReport } from '../../shared/svid/watchdog';

const deps = issuerDeps();
const boundMs = setting('SVID_PENDING_BOUND_SECONDS') * 1000;

export const handler = lambdaHandler(
  async (_event: unknown, context: Context): Promise<WatchdogReport> =>
    // Slot waits may use half of what is left at each re-drive; the rest ends the requests.
    redrivePending(deps, { boundMs, rateWaitDeadline: () => Date.now() + context.getRemainingTimeInMillis() / 2 }),
);
