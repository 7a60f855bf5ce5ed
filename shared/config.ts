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
import { z } from 'zod';

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
