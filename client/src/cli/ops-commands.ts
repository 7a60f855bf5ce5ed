/**
 * Operator commands: `trellis status` (GET /status: counts, p50/p95, what is stuck) and `trellis
 * smoke` (the reference scenario against a stage's real endpoints with throwaway workloads).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { OperationsStatus, StatusPercentiles } from '../api-client';
import { renderSmokeReport, runSmoke, targetFromEndpointsFile, targetFromStage } from '../smoke';
import { apiFor, keyValues, table } from './admin-commands';
import { EXIT, endpointsFile, globalOptions, output, UsageError } from './context';

const positive = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a number above 0`);
  return n;
};

const p = (x: StatusPercentiles, unit: string): string => (x.count === 0 ? 'no data' : `p50 ${x.p50} ${unit}, p95 ${x.p95} ${unit}, max ${x.max} ${unit} (${x.count})`);
const counts = (r: Record<string, number>): string => Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', ');

export function describeStatus(s: OperationsStatus): string {
  const lines = [
    `${s.healthy ? 'HEALTHY' : 'NEEDS ATTENTION'}: last ${s.window.hours} h (${s.window.from} to ${s.window.to})`,
    '',
    keyValues([
      ['SVIDs issued', String(s.svids.issued)],
      ['SVID requests failed', s.svids.failed === 0 ? '0' : `${s.svids.failed} (${counts(s.svids.failuresByReason)})`],
      ['SVIDs revoked', counts(s.svids.revokedByReason) || '0'],
      ['time to identity', p(s.svids.timeToIdentityMs, 'ms')],
      ['renewal lag', p(s.svids.renewalLagSeconds, 's')],
      ['policies applied', String(s.policies.applied)],
      ['policy sync failures', String(s.policies.syncFailures)],
      ['drift repaired', String(s.policies.driftRepaired)],
      ['grant to enforcement', p(s.policies.grantToPolicyMs, 'ms')],
    ]),
  ];
  if (s.policies.sizes.length > 0) lines.push('', table(['SERVICE', 'POLICY BYTES', '% OF QUOTA'], s.policies.sizes.map((x) => [x.service, String(x.bytes), String(x.quotaPercent)])));
  lines.push('', 'Stuck:');
  lines.push(`  pending SVID requests: ${s.stuck.pendingSvidRequests}${s.stuck.oldestPendingSeconds === null ? '' : `, oldest ${s.stuck.oldestPendingSeconds} s`}`);
  for (const r of s.stuck.pending) lines.push(`    ${r.spiffeId} (${r.trigger}, request ${r.requestId}) for ${r.ageSeconds} s`);
  lines.push(`  dead letters: ${counts(s.stuck.deadLetters) || 'none'}`);
  lines.push(`  policies out of sync: ${s.stuck.policiesOutOfSync.length === 0 ? 'none' : ''}`);
  for (const x of s.stuck.policiesOutOfSync) lines.push(`    ${x.service}: ${x.code} since ${x.since}: ${x.message}`);
  return lines.join('\n');
}

export function addOpsCommands(program: Command): void {
  program
    .command('status')
    .description('what the control plane did and what is stuck, from the audit trail (administrators; GET /status)')
    .addOption(new Option('--hours <n>', 'how far back to look (default 24)').argParser(positive('--hours')))
    .action(async (o: { hours?: number }, command: Command) => {
      const status = await apiFor(command).status(o.hours);
      output(globalOptions(command)).result(status, () => describeStatus(status));
      if (!status.healthy) process.exitCode = EXIT.failed;
    });

  program
    .command('smoke')
    .description('play the reference scenario against a stage with two throwaway workloads, check the four outcomes, clean up, print the table')
    .addOption(new Option('--stage <stage>', 'a deployed stage: endpoints from the outputs of its stack trellis-<stage> (AWS credentials from the standard chain)'))
    .addOption(new Option('--trust-domain <domain>', 'the local stack\'s trust domain (default example.org; a deployed stage outputs its own)'))
    .addOption(new Option('--timeout <seconds>', 'bound on each wait: an SVID, a policy sync, a call reaching its outcome (default 90)').argParser(positive('--timeout')))
    .action(async (o: { stage?: string; trustDomain?: string; timeout?: number }, command: Command) => {
      const options = globalOptions(command);
      const out = output(options);
      let target;
      if (o.stage !== undefined) {
        const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
        if (region === undefined) throw new UsageError('--stage needs --region <region> (or AWS_REGION)');
        target = await targetFromStage(o.stage, region);
      } else {
        target = await targetFromEndpointsFile(endpointsFile(options), o.trustDomain);
      }
      out.info(`smoke test against ${target.source}`);
      const report = await runSmoke(target, { log: (line) => out.info(`  ${line}`), ...(o.timeout === undefined ? {} : { timeoutMs: o.timeout * 1000 }) });
      out.result(report, () => renderSmokeReport(report));
      if (!report.passed) process.exitCode = EXIT.failed;
    });
}
