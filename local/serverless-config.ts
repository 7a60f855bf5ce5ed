/**
 * Reads serverless.yml for the local stack, so that tables, rules and function names have one
 * definition. Resolves the few variable forms the template uses (${sls:stage}, ${param:x},
 * ${opt:x, 'default'}, ${env:X, 'default'}, ${self:service}) and the CloudFormation tags it uses
 * (!GetAtt, !Ref, !Join, !Sub). Anything else fails loudly rather than being guessed.
 */
import { readFileSync } from 'node:fs';
import { parseDocument, type Tags } from 'yaml';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

type Yaml = unknown;
interface Intrinsic { [fn: string]: Yaml }

const intrinsicTags: Tags = ['Ref', 'GetAtt', 'Join', 'Sub', 'If', 'Equals', 'Select', 'Split', 'ImportValue'].map((name) => ({
  tag: `!${name}`,
  resolve: (value: unknown) => ({ [name === 'Ref' ? 'Ref' : `Fn::${name}`]: name === 'GetAtt' && typeof value === 'string' ? value.split('.') : value }),
  // yaml gives scalars as strings and collections as parsed nodes; both forms are accepted.
  collection: undefined,
})).flatMap((t) => [
  { ...t, collection: undefined },
  { ...t, collection: 'seq' as const, resolve: (seq: { toJSON(): unknown }) => t.resolve(seq.toJSON()) },
  { ...t, collection: 'map' as const, resolve: (map: { toJSON(): unknown }) => t.resolve(map.toJSON()) },
]) as unknown as Tags;

export interface ServerlessConfig {
  service: string;
  stage: string;
  region: string;
  raw: Record<string, Yaml>;
  params: Record<string, string>;
}

// Serverless variable sources start with a lower-case letter; ${AWS::Region} and the like are !Sub's.
const VARIABLE = /\$\{([a-z][^{}]*)\}/g;

function resolveVariables(value: Yaml, ctx: { stage: string; params: Record<string, Yaml>; service: string; opts: Record<string, string> }): Yaml {
  if (typeof value === 'string') {
    // A string that is exactly one ${param:x} takes the param's value as it is, an intrinsic
    // function included (as the Serverless Framework resolves it): `AcmPcaArn: '${param:caArn}'`
    // with caArn = !If [...] stays the !If.
    const whole = /^\$\{param:([\w-]+)\}$/.exec(value);
    if (whole !== null) {
      const v = ctx.params[whole[1] as string];
      if (v !== undefined && typeof v === 'object') return resolveVariables(v, ctx);
    }
    // {{resolve:...}} CloudFormation dynamic references are left as they are.
    let out = value;
    for (let i = 0; i < 5 && VARIABLE.test(out); i += 1) {
      VARIABLE.lastIndex = 0;
      out = out.replace(VARIABLE, (_m, expr: string) => {
        const [head, ...fallbackParts] = expr.split(',');
        const fallback = fallbackParts.join(',').trim().replace(/^['"]|['"]$/g, '');
        const [source, address] = (head ?? '').trim().split(/:(.*)/s) as [string, string | undefined];
        const lookup = (): string | undefined => {
          switch (source) {
            case 'sls':
              if (address === 'stage') return ctx.stage;
              break;
            case 'self':
              if (address === 'service') return ctx.service;
              break;
            case 'param': {
              const v = ctx.params[address ?? ''];
              return v === undefined ? undefined : String(resolveVariables(v, ctx));
            }
            case 'opt':
              return ctx.opts[address ?? ''];
            case 'env':
              return process.env[address ?? ''];
          }
          throw new Error(`serverless.yml: the local stack cannot resolve \${${expr}}`);
        };
        const v = lookup();
        if (v !== undefined) return v;
        if (fallbackParts.length > 0) return fallback;
        throw new Error(`serverless.yml: \${${expr}} has no value for stage ${ctx.stage}`);
      });
    }
    VARIABLE.lastIndex = 0;
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => resolveVariables(v, ctx));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveVariables(v, ctx)]));
  }
  return value;
}

export function loadServerlessConfig(file: string, stage: string, opts: Record<string, string> = {}): ServerlessConfig {
  const doc = parseDocument(readFileSync(file, 'utf8'), { customTags: intrinsicTags, merge: true });
  if (doc.errors.length > 0) throw new Error(`serverless.yml: ${doc.errors.map((e) => e.message).join('; ')}`);
  const raw = doc.toJS({ maxAliasCount: 100 }) as Record<string, Yaml>;
  const service = String(raw.service);
  const paramsRaw = (raw.params ?? {}) as Record<string, Record<string, Yaml>>;
  const params = { ...(paramsRaw.default ?? {}), ...(paramsRaw[stage] ?? {}) };
  const ctx = { stage, params, service, opts };
  const resolved = resolveVariables(raw, ctx) as Record<string, Yaml>;
  const resolvedParams = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(resolveVariables(v, ctx))]));
  const provider = (resolved.provider ?? {}) as Record<string, Yaml>;
  return { service, stage, region: String(provider.region ?? 'us-east-1'), raw: resolved, params: resolvedParams };
}

/**
 * The principal-tag conditions (`StringLike` on `aws:PrincipalTag/<key>`) of the workload role's
 * trust policy (resource WorkloadRole), for the local Roles Anywhere to enforce as IAM would. Only
 * that subtree is resolved, so no stand-in needs to run first.
 */
export function workloadRoleTagConditions(file: string, stage: string): { key: string; pattern: string }[] {
  const doc = parseDocument(readFileSync(file, 'utf8'), { customTags: intrinsicTags, merge: true });
  const raw = doc.toJS({ maxAliasCount: 100 }) as Record<string, Yaml>;
  const paramsRaw = (raw.params ?? {}) as Record<string, Record<string, Yaml>>;
  const params = { ...(paramsRaw.default ?? {}), ...(paramsRaw[stage] ?? {}) };
  const role = (((raw.resources ?? {}) as Record<string, Yaml>).Resources as Record<string, { Properties?: { AssumeRolePolicyDocument?: { Statement?: { Condition?: Record<string, Record<string, Yaml>> }[] } } }> | undefined)?.WorkloadRole;
  const statements = role?.Properties?.AssumeRolePolicyDocument?.Statement ?? [];
  const ctx = { stage, params, service: String(raw.service), opts: {} };
  return statements.flatMap((st) =>
    Object.entries(st.Condition?.StringLike ?? {})
      .filter(([key]) => key.startsWith('aws:PrincipalTag/'))
      .map(([key, value]) => ({ key: key.slice('aws:PrincipalTag/'.length), pattern: String(resolveVariables(value, ctx)) })),
  );
}

function resources(config: ServerlessConfig): Record<string, { Type: string; Properties: Record<string, Yaml> }> {
  return (((config.raw.resources ?? {}) as Record<string, Yaml>).Resources ?? {}) as Record<string, { Type: string; Properties: Record<string, Yaml> }>;
}

/** The DynamoDB tables of `resources`, as CreateTable inputs (CloudFormation-only properties dropped). */
export function tableDefinitions(config: ServerlessConfig): CreateTableCommandInput[] {
  return Object.values(resources(config))
    .filter((r) => r.Type === 'AWS::DynamoDB::Table')
    .map(({ Properties: p }) => ({
      TableName: String(p.TableName),
      AttributeDefinitions: p.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
      KeySchema: p.KeySchema as CreateTableCommandInput['KeySchema'],
      BillingMode: (p.BillingMode as CreateTableCommandInput['BillingMode']) ?? 'PAY_PER_REQUEST',
      ...(p.GlobalSecondaryIndexes ? { GlobalSecondaryIndexes: p.GlobalSecondaryIndexes as CreateTableCommandInput['GlobalSecondaryIndexes'] } : {}),
      ...(p.LocalSecondaryIndexes ? { LocalSecondaryIndexes: p.LocalSecondaryIndexes as CreateTableCommandInput['LocalSecondaryIndexes'] } : {}),
    }));
}

/** The event buses of `resources`, by name. */
export function busNames(config: ServerlessConfig): string[] {
  return Object.values(resources(config))
    .filter((r) => r.Type === 'AWS::Events::EventBus')
    .map((r) => String(r.Properties.Name));
}

export interface RuleDefinition {
  name: string;
  eventBusName: string;
  pattern: Record<string, unknown>;
  targets: { id: string; functionName?: string; queueName?: string; deadLetterQueue?: string }[];
}

/** The resource a `!GetAtt X.Arn` / `!Ref X` points at, checked to be of `type`. */
function referenced(config: ServerlessConfig, ref: Yaml, type: string, what: string): { Type: string; Properties: Record<string, Yaml> } {
  const getAtt = (ref as Intrinsic | undefined)?.['Fn::GetAtt'];
  const logical = Array.isArray(getAtt) ? String(getAtt[0]) : (ref as Intrinsic | undefined)?.Ref;
  const resource = resources(config)[String(logical)];
  if (!resource || resource.Type !== type) throw new Error(`serverless.yml: ${what} ${JSON.stringify(ref)} is not a ${type} of resources`);
  return resource;
}

const queueNameOf = (config: ServerlessConfig, ref: Yaml, what: string): string => String(referenced(config, ref, 'AWS::SQS::Queue', what).Properties.QueueName);

export interface QueueDefinition {
  name: string;
  visibilityTimeoutSeconds: number;
  redrive?: { deadLetterQueue: string; maxReceiveCount: number };
}

/** The SQS queues of `resources` (VisibilityTimeout defaults to 30 s, as in SQS). */
export function queueDefinitions(config: ServerlessConfig): QueueDefinition[] {
  return Object.values(resources(config))
    .filter((r) => r.Type === 'AWS::SQS::Queue')
    .map(({ Properties: p }) => {
      const redrive = p.RedrivePolicy as { deadLetterTargetArn?: Yaml; maxReceiveCount?: Yaml } | undefined;
      return {
        name: String(p.QueueName),
        visibilityTimeoutSeconds: Number(p.VisibilityTimeout ?? 30),
        ...(redrive ? { redrive: { deadLetterQueue: queueNameOf(config, redrive.deadLetterTargetArn, `queue ${String(p.QueueName)} RedrivePolicy`), maxReceiveCount: Number(redrive.maxReceiveCount) } } : {}),
      };
    });
}

export interface SqsMappingDefinition {
  queueName: string;
  functionName: string;
  functionKey: string;
  batchSize: number;
  maximumConcurrency: number;
  reportBatchItemFailures: boolean;
}

/** Every function's `sqs` events: Lambda event source mappings (batchSize defaults to 10, as in Serverless). */
export function sqsMappings(config: ServerlessConfig): SqsMappingDefinition[] {
  const functions = (config.raw.functions ?? {}) as Record<string, { events?: Record<string, Yaml>[] }>;
  const out: SqsMappingDefinition[] = [];
  for (const [key, fn] of Object.entries(functions)) {
    for (const event of fn.events ?? []) {
      const sqs = event.sqs as { arn?: Yaml; batchSize?: Yaml; maximumConcurrency?: Yaml; functionResponseType?: Yaml } | undefined;
      if (!sqs) continue;
      out.push({
        queueName: queueNameOf(config, sqs.arn, `function ${key} sqs arn`),
        functionName: functionName(config, key),
        functionKey: key,
        batchSize: Number(sqs.batchSize ?? 10),
        // Without maximumConcurrency Lambda scales pollers up to its own limits: 1000 stands for "unbounded" locally.
        maximumConcurrency: Number(sqs.maximumConcurrency ?? 1000),
        reportBatchItemFailures: sqs.functionResponseType === 'ReportBatchItemFailures',
      });
    }
  }
  return out;
}

export function functionName(config: ServerlessConfig, key: string): string {
  return `${config.service}-${config.stage}-${key}`;
}

function resolveBusName(config: ServerlessConfig, ref: Yaml): string {
  if (typeof ref === 'string') return ref;
  const getAtt = (ref as Intrinsic)['Fn::GetAtt'];
  const logical = Array.isArray(getAtt) ? String(getAtt[0]) : (ref as Intrinsic).Ref;
  const resource = resources(config)[String(logical)];
  if (!resource || resource.Type !== 'AWS::Events::EventBus') throw new Error(`serverless.yml: eventBus ${JSON.stringify(ref)} is not an event bus of resources`);
  return String(resource.Properties.Name);
}

/** Every function's eventBridge rules, named as Serverless names them when it deploys. */
export function ruleDefinitions(config: ServerlessConfig): RuleDefinition[] {
  const functions = (config.raw.functions ?? {}) as Record<string, { events?: Record<string, Yaml>[] }>;
  const rules: RuleDefinition[] = [];
  for (const [key, fn] of Object.entries(functions)) {
    let n = 0;
    for (const event of fn.events ?? []) {
      const eb = event.eventBridge as { eventBus?: Yaml; pattern?: Record<string, unknown> } | undefined;
      if (!eb) continue;
      n += 1;
      if (!eb.pattern) throw new Error(`serverless.yml: function ${key} has an eventBridge event without a pattern`);
      const name = `${config.service}-${config.stage}-${key}-rule-${n}`;
      const dlq = (eb as { deadLetterQueueArn?: Yaml }).deadLetterQueueArn;
      rules.push({
        name,
        eventBusName: eb.eventBus === undefined ? 'default' : resolveBusName(config, eb.eventBus),
        pattern: eb.pattern,
        targets: [{ id: `${name}-target`, functionName: functionName(config, key), ...(dlq === undefined ? {} : { deadLetterQueue: queueNameOf(config, dlq, `function ${key} deadLetterQueueArn`) }) }],
      });
    }
  }
  // Rules declared as resources (targets other than functions, e.g. the SVID request queue).
  for (const resource of Object.values(resources(config))) {
    if (resource.Type !== 'AWS::Events::Rule') continue;
    const p = resource.Properties as { Name?: Yaml; EventBusName?: Yaml; EventPattern?: Record<string, unknown>; Targets?: { Id?: Yaml; Arn?: Yaml; DeadLetterConfig?: { Arn?: Yaml } }[] };
    if (!p.EventPattern) throw new Error(`serverless.yml: rule ${String(p.Name)} has no EventPattern`);
    rules.push({
      name: String(p.Name),
      eventBusName: p.EventBusName === undefined ? 'default' : resolveBusName(config, p.EventBusName),
      pattern: p.EventPattern,
      targets: (p.Targets ?? []).map((t) => ({
        id: String(t.Id),
        queueName: queueNameOf(config, t.Arn, `rule ${String(p.Name)} target`),
        ...(t.DeadLetterConfig?.Arn === undefined ? {} : { deadLetterQueue: queueNameOf(config, t.DeadLetterConfig.Arn, `rule ${String(p.Name)} DeadLetterConfig`) }),
      })),
    });
  }
  return rules;
}

/** The http routes as "METHOD /path" (used to check the OpenAPI document). */
export function httpRoutes(config: ServerlessConfig): string[] {
  const functions = (config.raw.functions ?? {}) as Record<string, { events?: Record<string, Yaml>[] }>;
  const routes: string[] = [];
  for (const fn of Object.values(functions)) {
    for (const event of fn.events ?? []) {
      const http = event.http as { path?: string; method?: string } | undefined;
      if (http?.path && http.method) routes.push(`${http.method.toUpperCase()} /${http.path.replace(/^\//, '')}`);
    }
  }
  return routes.sort();
}

/** The environment serverless.yml gives a function (provider-level merged with its own). */
export function functionEnvironment(config: ServerlessConfig, key: string): Record<string, string> {
  const provider = (config.raw.provider ?? {}) as { environment?: Record<string, Yaml> };
  const fn = ((config.raw.functions ?? {}) as Record<string, { environment?: Record<string, Yaml> }>)[key];
  if (!fn) throw new Error(`serverless.yml has no function ${key}`);
  const merged = { ...(provider.environment ?? {}), ...(fn.environment ?? {}) };
  return Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, String(v)]));
}

export function functionKeys(config: ServerlessConfig): string[] {
  return Object.keys((config.raw.functions ?? {}) as Record<string, unknown>);
}
