/**
 * What serverless.yml gives an operator: every Trellis metric the dashboard and the alarms use is in
 * the one catalogue the code emits from (shared/metrics/catalog.ts), with the same unit; every alarm
 * says what to do and pages the alarm topic; scheduled rules and their reason for having no DLQ;
 * point-in-time recovery on every table with state a user created; retention on production stages;
 * the outputs a workload or an operator needs; the workload role admits only SVIDs of the trust domain.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadServerlessConfig } from '../../local/serverless-config';
import { METRICS_NAMESPACE, METRICS_SERVICE, metricCatalog, type MetricName } from '../../shared/metrics/catalog';

process.env.TRELLIS_LOCAL_CA_ARN ??= 'arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/00000000-0000-4000-8000-000000000000';
process.env.TRELLIS_LOCAL_LATTICE_SERVICES ??= 'billing=arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0';
const file = join(import.meta.dirname, '..', '..', 'serverless.yml');
const dev = loadServerlessConfig(file, 'dev');
const prod = loadServerlessConfig(file, 'prod');

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string };
const resourcesOf = (config: typeof dev): Record<string, Resource> => (config.raw.resources as { Resources: Record<string, Resource> }).Resources;
const resources = resourcesOf(dev);
const ofType = (type: string, config = dev): [string, Resource][] => Object.entries(resourcesOf(config)).filter(([, r]) => r.Type === type);

interface MetricRef { namespace: string; name: string; unit?: string; dimensions: Record<string, string> }

/** Every metric an alarm references (MetricName, or each MetricStat of a metric-math alarm). */
function alarmMetrics(alarm: Resource): MetricRef[] {
  const p = alarm.Properties as { Namespace?: string; MetricName?: string; Unit?: string; Dimensions?: { Name: string; Value: string }[]; Metrics?: { MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions?: { Name: string; Value: string }[] }; Unit?: string } }[] };
  const dims = (d?: { Name: string; Value: string }[]) => Object.fromEntries((d ?? []).map((x) => [x.Name, x.Value]));
  if (p.MetricName) return [{ namespace: String(p.Namespace), name: p.MetricName, ...(p.Unit ? { unit: p.Unit } : {}), dimensions: dims(p.Dimensions) }];
  return (p.Metrics ?? []).flatMap((m) => (m.MetricStat ? [{ namespace: m.MetricStat.Metric.Namespace, name: m.MetricStat.Metric.MetricName, ...(m.MetricStat.Unit ? { unit: m.MetricStat.Unit } : {}), dimensions: dims(m.MetricStat.Metric.Dimensions) }] : []));
}

const dashboard = (): { widgets: { type: string; properties: { metrics?: unknown[][]; region?: string } }[] } => {
  const body = (resources.Dashboard?.Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub'];
  return JSON.parse(body) as ReturnType<typeof dashboard>;
};

/** Trellis metric names a dashboard widget references: metric arrays and SEARCH expressions. */
function dashboardTrellisMetrics(): string[] {
  const names: string[] = [];
  for (const w of dashboard().widgets) {
    for (const m of w.properties.metrics ?? []) {
      if (m[0] === METRICS_NAMESPACE) names.push(String(m[1]));
      const expr = (m[0] as { expression?: string }).expression;
      if (expr) {
        expect(expr).toMatch(/^SEARCH\('\{Trellis,/);
        names.push(...[...expr.matchAll(/MetricName="(\w+)"/g)].map((x) => x[1] as string));
      }
    }
  }
  return names;
}

describe('metrics in the template', () => {
  it('every Trellis metric the dashboard shows is in the catalogue, and each widget has its region and the stage dimensions', () => {
    const names = dashboardTrellisMetrics();
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(Object.keys(metricCatalog), name).toContain(name);
    for (const w of dashboard().widgets.filter((x) => x.type === 'metric')) {
      expect(w.properties.region).toBe('${AWS::Region}');
      for (const m of w.properties.metrics ?? []) if (m[0] === METRICS_NAMESPACE) expect(m.slice(2, 6)).toEqual(['service', METRICS_SERVICE, 'stage', 'dev']);
    }
  });

  it('the dashboard shows every metric of the catalogue', () => {
    const shown = new Set(dashboardTrellisMetrics());
    expect((Object.keys(metricCatalog) as MetricName[]).filter((n) => !shown.has(n))).toEqual([]);
  });

  it('every alarm on a Trellis metric names a catalogued metric with its unit and the stage dimensions', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm');
    const trellis = alarms.flatMap(([, a]) => alarmMetrics(a)).filter((m) => m.namespace === METRICS_NAMESPACE);
    expect(new Set(trellis.map((m) => m.name))).toEqual(new Set(['SvidIssuanceFailures', 'SvidsIssued', 'OldestPendingSvidRequestAge', 'PolicyQuotaUsed', 'PoliciesOutOfSync', 'PcaThrottles']));
    for (const m of trellis) {
      const entry = metricCatalog[m.name as MetricName];
      expect(entry, m.name).toBeDefined();
      expect(m.unit, m.name).toBe(entry.unit);
      expect(m.dimensions).toEqual({ service: METRICS_SERVICE, stage: 'dev' });
    }
  });
});

describe('alarms', () => {
  const alarms = ofType('AWS::CloudWatch::Alarm');

  it('page the alarm topic and say what to do', () => {
    expect(alarms.length).toBeGreaterThanOrEqual(8);
    for (const [name, a] of alarms) {
      expect(a.Properties.AlarmActions, name).toEqual([{ Ref: 'AlarmTopic' }]);
      expect(String(a.Properties.AlarmDescription), name).toMatch(/To do: /);
    }
    expect(resources.AlarmTopic?.Type).toBe('AWS::SNS::Topic');
  });

  it('a pending SVID request older than the watchdog bound alarms, and so does a silent watchdog', () => {
    const a = resources.PendingSvidRequestAlarm?.Properties ?? {};
    expect(a.Threshold).toBe(dev.params.svidPendingBoundSeconds);
    expect(a.TreatMissingData).toBe('breaching');
  });

  it('out of sync for longer than the reconcile period: two reconcile periods in a row', () => {
    const a = resources.PolicyOutOfSyncAlarm?.Properties ?? {};
    const rate = /^rate\((\d+) minutes?\)$/.exec(dev.params.policyReconcileRate ?? '');
    expect(Number(rate?.[1]) * 60).toBe(Number(dev.params.policyReconcilePeriodSeconds));
    expect(String(a.Period)).toBe(dev.params.policyReconcilePeriodSeconds);
    expect(a.EvaluationPeriods).toBe(2);
  });

  it('the policy quota alarm fires above 90 %; dead-letter alarms cover both DLQs', () => {
    expect(String(resources.PolicyQuotaAlarm?.Properties.Threshold)).toBe('90');
    const dlqAlarms = alarms.flatMap(([, a]) => alarmMetrics(a)).filter((m) => m.namespace === 'AWS/SQS').map((m) => m.dimensions.QueueName);
    expect(dlqAlarms).toHaveLength(2);
  });
});

describe('template gaps', () => {
  it('every scheduled function is covered by the scheduled-function alarm (the documented reason it has no DLQ)', () => {
    const functions = dev.raw.functions as Record<string, { events?: Record<string, unknown>[] }>;
    const scheduled = Object.entries(functions).filter(([, f]) => (f.events ?? []).some((e) => 'schedule' in e)).map(([k]) => k);
    expect(scheduled.sort()).toEqual(['outboxSweeper', 'policyReconciler', 'svidRenewer', 'svidWatchdog']);
    const watched = alarmMetrics(resources.ScheduledFunctionErrorsAlarm as Resource).map((m) => m.dimensions.FunctionName);
    expect(watched.sort()).toEqual(scheduled.map((k) => `trellis-dev-${k}`).sort());
    // Every other rule target has a dead-letter queue.
    for (const [, f] of Object.entries(functions)) for (const e of f.events ?? []) if ('eventBridge' in e) expect((e.eventBridge as { deadLetterQueueArn?: unknown }).deadLetterQueueArn).toBeDefined();
    for (const [, r] of ofType('AWS::Events::Rule')) for (const t of r.Properties.Targets as { DeadLetterConfig?: unknown }[]) expect(t.DeadLetterConfig).toBeDefined();
    expect(readFileSync(file, 'utf8')).toMatch(/scheduled functions have no dead-letter queue/);
  });

  it('point-in-time recovery on every table but the rate limits (no state a user created), the audit trail included', () => {
    const tables = ofType('AWS::DynamoDB::Table');
    const without = tables.filter(([, r]) => (r.Properties.PointInTimeRecoverySpecification as { PointInTimeRecoveryEnabled?: boolean } | undefined)?.PointInTimeRecoveryEnabled !== true).map(([k]) => k);
    expect(without).toEqual(['RateLimitsTable']);
    expect(tables.map(([k]) => k)).toContain('AuditTable');
  });

  it('production stages keep their tables (deletion protection, Retain) and logs for a year; others do not', () => {
    for (const [name, r] of ofType('AWS::DynamoDB::Table', prod).filter(([k]) => k !== 'RateLimitsTable')) {
      expect(r.DeletionPolicy, name).toBe('Retain');
      expect(r.UpdateReplacePolicy, name).toBe('Retain');
      expect(String(r.Properties.DeletionProtectionEnabled), name).toBe('true');
    }
    for (const [name, r] of ofType('AWS::DynamoDB::Table').filter(([k]) => k !== 'RateLimitsTable')) {
      expect(r.DeletionPolicy, name).toBe('Delete');
      expect(String(r.Properties.DeletionProtectionEnabled), name).toBe('false');
    }
    expect(String((prod.raw.provider as { logRetentionInDays: unknown }).logRetentionInDays)).toBe('365');
    expect(String((dev.raw.provider as { logRetentionInDays: unknown }).logRetentionInDays)).toBe('14');
  });

  it('outputs what a workload or an operator needs', () => {
    const outputs = (dev.raw.resources as { Outputs: Record<string, { Value: unknown }> }).Outputs;
    for (const key of ['ApiBaseUrl', 'EventBusName', 'EventBusArn', 'TrustDomain', 'BillingServiceArn', 'BillingServiceUrl', 'RatesServiceArn', 'RatesServiceUrl', 'TrustAnchorArn', 'ProfileArn', 'WorkloadRoleArn', 'CaArn', 'AlarmTopicArn', 'DashboardUrl']) {
      expect(outputs[key]?.Value, key).toBeDefined();
    }
  });

  it('the workload role admits only sessions of the trust anchor whose certificate carries a SPIFFE ID of the trust domain', () => {
    const trust = (resources.WorkloadRole?.Properties.AssumeRolePolicyDocument as { Statement: { Condition: Record<string, Record<string, unknown>> }[] }).Statement;
    expect(trust).toHaveLength(1);
    expect(trust[0]?.Condition).toEqual({
      ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['WorkloadTrustAnchor', 'TrustAnchorArn'] } },
      StringLike: { 'aws:PrincipalTag/x509SAN/URI': 'spiffe://example.org/*' },
    });
  });
});
