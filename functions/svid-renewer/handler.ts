/** Scheduled: renews every SVID past half of its lifetime (pending requests are the watchdog's). */
import { lambdaHandler } from '../../shared/handler';
import { logger } from '../../shared/logger';
import { renewDueSvids, type RenewalReport } from '../../shared/svid/renew';
import { svidDeps } from '../../shared/svid/deps';

const deps = svidDeps();

export const handler = lambdaHandler(async (): Promise<RenewalReport> => {
  const report = await renewDueSvids(deps, new Date());
  logger.info('SVID renewal pass finished', { renewed: report.renewed.length });
  return report;
});
