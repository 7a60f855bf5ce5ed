/**
 * The rules of serverless.yml and the event catalogue agree: a rule that names a detail-type the
 * catalogue does not define would never fire (a typo, or an event renamed on one side only).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadServerlessConfig, ruleDefinitions } from '../../local/serverless-config';
import { EVENT_SOURCE, eventSchemas } from '../../shared/events/catalog';

// The local stage reads two values the stand-ins set when they start; any well-formed value will do here.
process.env.TRELLIS_LOCAL_CA_ARN ??= 'arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/00000000-0000-4000-8000-000000000000';
process.env.TRELLIS_LOCAL_LATTICE_SERVICES ??= 'billing=arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0';
const config = loadServerlessConfig(join(import.meta.dirname, '..', '..', 'serverless.yml'), 'local');

/** The detail-type values a pattern matches: a string list, or the `prefix`/`anything-but` forms, which the rules do not use. */
function detailTypesOf(pattern: Record<string, unknown>): unknown[] {
  const value = pattern['detail-type'];
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

describe('the EventBridge rules of serverless.yml', () => {
  const rules = ruleDefinitions(config);

  // Rules on the default bus hear AWS's events (CloudTrail), not Trellis's: test/unit/policy-drift-template.test.ts.
  const trellisRules = rules.filter((r) => r.eventBusName !== 'default');

  it('exist, and every one on the Trellis bus filters on the trellis source', () => {
    expect(trellisRules.length).toBeGreaterThan(0);
    for (const rule of trellisRules) expect(rule.pattern.source, rule.name).toEqual([EVENT_SOURCE]);
  });

  it.each(trellisRules.map((r) => [r.name, r] as const))('%s matches only detail-types of the event catalogue', (_name, rule) => {
    const types = detailTypesOf(rule.pattern);
    for (const type of types) {
      expect(typeof type, `${rule.name}: a detail-type must be a plain string`).toBe('string');
      expect(Object.keys(eventSchemas), `${rule.name}: "${String(type)}" is not an event of shared/events/catalog.ts`).toContain(type);
    }
  });

  it('together listen to the events whose reaction the design needs', () => {
    const heard = new Set(rules.flatMap((r) => detailTypesOf(r.pattern)));
    for (const type of ['SvidRequested', 'WorkloadDeleted', 'GrantChanged', 'ServiceRegistered']) expect(heard).toContain(type);
  });
});
