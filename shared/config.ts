/**
 * Configuration, read from the environment that serverless.yml sets (the same variables
 * locally and in the cloud), validated per setting and loud: a missing or malformed setting
 * fails with its name in the message. Modules read what they need at module scope, so a bad
 * deployment fails at cold start, not halfway through a request.
 *
 * AWS endpoints are NOT configured here: the SDK reads AWS_ENDPOINT_URL_<SERVICE>
 * (e.g. AWS_ENDPOINT_URL_DYNAMODB) itself, which is how the local stack points the same
 * handler code at its stand-ins.
 */
// Everywhere `import * as z`: esbuild tree-shakes the namespace form; `import { z }` bundles all of zod (its 40+ locales too).
import * as z from 'zod';

const nonEmpty = z.string().min(1, 'must be set');
const arnList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0))
  .pipe(z.array(z.string().startsWith('arn:', 'each entry must be an ARN')));

const schemas = {
  STAGE: nonEmpty,
  TRUST_DOMAIN: z.string().regex(/^[a-z0-9._-]+$/, 'must be a trust domain: lowercase letters, digits, ".", "-", "_"'),
  EVENT_BUS_NAME: nonEmpty,
  WORKLOADS_TABLE: nonEmpty,
  AUDIT_TABLE: nonEmpty,
  ADMIN_PRINCIPAL_ARNS: arnList.pipe(z.array(z.string()).min(1, 'must list at least one administrator ARN')),
  PAGE_TOKEN_KEY: z.string().min(16, 'must be at least 16 characters'),
  /** Set only by the local stack: who an unsigned request acts as (serverless-offline drops AWS_IAM auth). */
  LOCAL_UNSIGNED_CALLER_ARN: z.preprocess((v) => (v === '' ? undefined : v), z.string().startsWith('arn:', 'must be an ARN').optional()),
  /** SVID state per workload: requests, the current certificate, every serial issued. */
  SVIDS_TABLE: nonEmpty,
  /** The schedule of call slots (GCRA) shared by all concurrent invocations: the IssueCertificate rate limit. */
  RATE_LIMITS_TABLE: nonEmpty,
  /** The ACM Private CA that signs X.509-SVIDs (stage parameter caArn). */
  PCA_CA_ARN: z
    .string()
    .regex(/^arn:aws[a-z-]*:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority\/[\w-]+$/, 'must be an ACM Private CA ARN: arn:aws:acm-pca:<region>:<account>:certificate-authority/<id> (set the stage parameter caArn, e.g. TRELLIS_CA_ARN)'),
  /** Ceiling on IssueCertificate calls per second across all issuer invocations (the AWS quota is 25/s). */
  SVID_ISSUE_RATE_PER_SECOND: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a positive number')
    .transform(Number)
    .pipe(z.number().gt(0, 'must be above 0')),
  /** Receives of one SVID request message before its last attempt ends it (the queue's maxReceiveCount). */
  SVID_REQUEST_MAX_RECEIVES: z.string().regex(/^[1-9]\d*$/, 'must be a whole number above 0').transform(Number),
  /** No SVID request stays pending longer than this (the watchdog's bound), in seconds. */
  SVID_PENDING_BOUND_SECONDS: z
    .string()
    .regex(/^\d+$/, 'must be a whole number of seconds')
    .transform(Number)
    .pipe(z.number().min(4, 'must be at least 4 seconds')),
  /** Local stage only: the local ACM PCA's listing of what it issued (real ACM PCA has no list API); empty elsewhere. */
  PCA_ISSUED_LISTING_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url('must be a URL').optional()),
  /** The dead-letter queues the admin API shows and re-drives, by name, comma-separated. */
  DEAD_LETTER_QUEUES: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0))
    .pipe(z.array(z.string().regex(/^[\w-]{1,80}$/, 'each entry must be an SQS queue name')).min(1, 'must name at least one queue')),
  // Grants and auth-policy sync.
  GRANTS_TABLE: nonEmpty,
  SERVICES_TABLE: nonEmpty,
  /** Revoked, unexpired certificates every compiled auth policy denies (shared/policy-sync/revocations.ts). */
  REVOCATIONS_TABLE: nonEmpty,
  /** The stage's managed Lattice services, `name=arn` pairs separated by commas (seeded into SERVICES_TABLE). */
  MANAGED_SERVICES: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0))
    .pipe(
      z.array(
        z
          .string()
          .regex(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?=arn:aws[a-z-]*:vpc-lattice:[a-z0-9-]+:\d{12}:service\/svc-[0-9a-z]{17}$/, 'each entry must be <service name>=<VPC Lattice service ARN>')
          .transform((pair) => ({ name: pair.slice(0, pair.indexOf('=')), arn: pair.slice(pair.indexOf('=') + 1) })),
      ),
    ),
  /** The stage's IAM Roles Anywhere role: auth policies admit only sessions of this role. */
  WORKLOAD_ROLE_ARN: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'must be an IAM role ARN'),
  /**
   * Trellis's own auth-policy writers (the policy sync, reconciler and drift repair roles), IAM role
   * ARNs: the drift repair ignores CloudTrail events of their calls (shared/policy-sync/drift-trigger.ts).
   */
  POLICY_WRITER_ROLE_ARNS: arnList.pipe(z.array(z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'each entry must be an IAM role ARN')).min(1, 'must list at least one role ARN')),
  /** Optional pin of the issuing CA (aws:PrincipalTag/x509Issuer/OU) in every auth policy; empty = no pin. */
  POLICY_ISSUER_OU: z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()),
  /** The CRL import: the trust anchor CRLs are imported into, the name of the imported CRL, the CA's CRL bucket. */
  CRL_TRUST_ANCHOR_ARN: z.string().regex(/^arn:aws[a-z-]*:rolesanywhere:[a-z0-9-]+:\d{12}:trust-anchor\/[0-9a-f-]{36}$/, 'must be a Roles Anywhere trust anchor ARN'),
  CRL_NAME: z.string().regex(/^[ a-zA-Z0-9_-]{1,255}$/, 'must be 1-255 letters, digits, spaces, _ and - (the ImportCrl name pattern)'),
  CRL_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
  /** Path-style S3 addressing ("true"): the local S3 stand-in serves /<bucket>/<key> only. Default off. */
  S3_FORCE_PATH_STYLE: z.preprocess((v) => (v === undefined || v === '' ? 'false' : v), z.enum(['true', 'false'], 'must be "true" or "false"').transform((v) => v === 'true')),
  /** The Roles Anywhere endpoint; empty = the SDK's default for the region (this SDK version reads no AWS_ENDPOINT_URL_ROLESANYWHERE). */
  ROLES_ANYWHERE_ENDPOINT: z.preprocess((v) => (v === '' ? undefined : v), z.url('must be a URL').optional()),
  /** The outbox sweeper leaves outboxes younger than this (ms) to the request that wrote them; default 30 s. */
  OUTBOX_GRACE_MS: z.preprocess((v) => (v === undefined || v === '' ? '30000' : v), z.string().regex(/^\d+$/, 'must be a whole number of milliseconds').transform(Number)),
} as const;

type Schemas = typeof schemas;
export type SettingName = keyof Schemas;
export type Setting<K extends SettingName> = z.output<Schemas[K]>;

const cache = new Map<SettingName, unknown>();

export function setting<K extends SettingName>(name: K): Setting<K> {
  if (cache.has(name)) return cache.get(name) as Setting<K>;
  const parsed = schemas[name].safeParse(process.env[name]);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => i.message).join('; ');
    throw new Error(`Trellis configuration: environment variable ${name} ${process.env[name] === undefined ? 'is missing' : `is invalid (${why})`}`);
  }
  cache.set(name, parsed.data);
  return parsed.data as Setting<K>;
}

/** Tests change the environment between suites; production code never calls this. */
export function resetConfigCache(): void {
  cache.clear();
}
