/** Administrator commands over the control-plane API: workloads, grants, services, policies. */
import { Command, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { TrellisApi, type DecisionExplanation, type Grant, type GrantChangePreview, type GrantSetResult, type ManagedService, type ServicePolicy, type WorkloadEntry } from '../api-client';
import { WorkloadEdgeError } from '../edge-error';
import { globalOptions, loadEndpoints, output, type Output } from './context';
import { parseGrantsFile } from './grant-files';

/** The API client for this invocation: signed (SigV4, execute-api) exactly when --api names a deployed stage. */
export function apiFor(command: Command): TrellisApi {
  const options = globalOptions(command);
  const endpoints = loadEndpoints(options);
  return new TrellisApi({ baseUrl: endpoints.api, region: endpoints.region, sign: options.api !== undefined });
}

/** Repeatable options (`--principal-arn a --principal-arn b`) collect into a list. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function parseInteger(name: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
    return Number(value);
  };
}

/** Left-aligned columns, two spaces apart; `-` for empty cells. Hand-written: a few lines, where a table library would be one more dependency loaded by every command. */
export function table(headers: string[], rows: string[][]): string {
  const cells = [headers, ...rows.map((row) => row.map((cell) => (cell === '' ? '-' : cell)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

/** `key: value` lines with the values aligned. */
export function keyValues(pairs: [string, string][]): string {
  const width = Math.max(...pairs.map(([key]) => key.length)) + 1;
  return pairs.map(([key, value]) => `${`${key}:`.padEnd(width)} ${value === '' ? '-' : value}`).join('\n');
}

const describeWorkload = (w: WorkloadEntry): string =>
  keyValues([
    ['id', w.id],
    ['spiffeId', w.spiffeId],
    ['principals', w.selectors.awsPrincipalArns.join(', ')],
    ['ttlSeconds', String(w.x509SvidTtlSeconds)],
    ['dnsNames', w.dnsNames.join(', ')],
    ['revision', String(w.revision)],
    ['createdAt', w.createdAt],
    ['updatedAt', w.updatedAt],
  ]);

const workloadTable = (items: WorkloadEntry[]): string =>
  items.length === 0
    ? 'no workloads'
    : table(
        ['ID', 'SPIFFE ID', 'TTL', 'REV', 'PRINCIPALS'],
        items.map((w) => [w.id, w.spiffeId, String(w.x509SvidTtlSeconds), String(w.revision), w.selectors.awsPrincipalArns.join(',')]),
      );

const grantTable = (items: Grant[]): string =>
  items.length === 0
    ? 'no grants'
    : table(
        ['ID', 'SERVICE', 'EFFECT', 'CALLER', 'METHODS', 'PATH PREFIXES'],
        items.map((g) => [g.id, g.service, g.effect ?? 'Allow', g.caller, (g.methods ?? ['*']).join(','), (g.pathPrefixes ?? ['*']).join(',')]),
      );

const serviceTable = (items: ManagedService[]): string =>
  items.length === 0 ? 'no services' : table(['NAME', 'SOURCE', 'ARN'], items.map((s) => [s.name, s.source, s.arn]));

function describePolicy(p: ServicePolicy): string {
  const lines = keyValues([
    ['service', p.service],
    ['serviceArn', p.serviceArn],
    ['state', p.state],
    ['grants', String(p.grants)],
    ['compiled', p.compiled.error ? `${p.compiled.error.code}: ${p.compiled.error.message}` : `${p.compiled.bytes} bytes, ${p.compiled.statements ?? '?'} statements`],
    ['applied', p.applied === null ? 'none' : `${p.applied.bytes} bytes${p.applied.lastUpdatedAt ? `, updated ${p.applied.lastUpdatedAt}` : ''}`],
    ['versions', `desired ${p.sync.desiredVersion}, applied ${p.sync.appliedVersion ?? '-'}`],
  ]);
  const policy = p.applied?.policy ?? p.compiled.policy;
  if (policy === null || policy === undefined) return lines;
  let pretty = policy;
  try {
    pretty = JSON.stringify(JSON.parse(policy), null, 2);
  } catch {
    // show it as stored
  }
  return `${lines}\n\n${p.applied === null ? 'compiled' : 'applied'} policy:\n${pretty}`;
}

function describePreview(p: GrantChangePreview): string {
  const size = (s: { bytes: number; statements: number } | null): string => (s === null ? 'over the quota' : `${s.bytes} bytes, ${s.statements} statements`);
  const lines = [
    `dry run: ${p.change === 'create' ? 'adding' : 'removing'} this grant ${p.outcome === 'refused' ? `would be REFUSED (${p.error?.code ?? 'refused'}: ${p.error?.message ?? ''})` : 'would apply'}; nothing was changed`,
    grantTable([p.grant]),
    '',
    keyValues([
      ['policy before', size(p.policy.before)],
      ['policy after', `${p.policy.after.bytes} of ${p.policy.after.limit} bytes${p.policy.after.fits ? `, ${p.policy.after.statements} statements` : ': over the quota'}`],
      ['statements', `+${p.policy.added.length} -${p.policy.removed.length}`],
    ]),
  ];
  for (const s of p.policy.added) lines.push(`+ ${JSON.stringify(s)}`);
  for (const s of p.policy.removed) lines.push(`- ${JSON.stringify(s)}`);
  lines.push('');
  if (p.access.changes.length === 0) lines.push('no caller\'s access changes');
  else {
    lines.push('access that changes (* = any method / path no grant names; a prefix = the other IDs under it):', accessTable(p.access.changes));
    if (p.access.truncated) lines.push('(more changes not listed)');
  }
  return lines.join('\n');
}

function accessTable(changes: GrantChangePreview['access']['changes']): string {
  return table(['CALLER', 'METHOD', 'PATH PREFIX', 'BEFORE', 'AFTER'], changes.map((c) => [c.caller, c.method, c.pathPrefix, c.before, c.after]));
}

function describeApply(results: GrantSetResult[], dryRun: boolean): string {
  const lines = [
    table(
      ['SERVICE', dryRun ? 'WOULD CHANGE' : 'CHANGED', 'CREATED', 'DELETED', 'STATEMENTS', 'POLICY BYTES', 'REVISION'],
      results.map((r) => [r.service, r.changed ? 'yes' : 'no', String(r.created.length), String(r.deleted.length), `+${r.policy.added.length} -${r.policy.removed.length}`, `${r.policy.bytes}/${r.policy.limit}`, r.revision]),
    ),
  ];
  for (const r of results) {
    if (r.access.changes.length === 0) continue;
    lines.push('', `${r.service}: access that changes (* = any method / path no grant names; a prefix = the other IDs under it):`, accessTable(r.access.changes));
    if (r.access.truncated) lines.push('(more changes not listed)');
  }
  lines.push('', dryRun ? 'dry run: nothing was changed' : results.some((r) => r.changed) ? 'applied' : 'nothing to change');
  return lines.join('\n');
}

/** One cell of the matrix: how the caller's grants on the service read, e.g. `allow GET /v1/` or `DENY POST`. */
const grantSummary = (g: Grant): string =>
  [(g.effect ?? 'Allow') === 'Deny' ? 'DENY' : 'allow', ...(g.methods ?? []), ...(g.pathPrefixes ?? [])].join(' ');

function describeDecision(d: DecisionExplanation): string {
  const lines = [
    `${d.decision}: ${d.request.caller} ${d.request.method} ${d.request.path} → ${d.service}`,
    keyValues([
      ['reason', d.reason],
      ['statement', d.statement === null ? 'no statement matched' : `${d.statement.sid ?? `#${d.statement.index}`} (${d.statement.effect})`],
      ['policy', d.policyState === 'in-sync' ? 'in-sync (the applied policy is the compilation of the current grants)' : `${d.policyState}: the applied policy is not the compilation of the current grants; the answer is what Lattice decides now`],
    ]),
  ];
  if (d.grants.length > 0) lines.push('', 'from grants:', grantTable(d.grants));
  if (d.blockedBy.length > 0) lines.push('', 'denied by grants (remove one with `trellis grants remove <id>`):', grantTable(d.blockedBy));
  if (d.nearest.length > 0) {
    lines.push(
      '',
      'nearest grants that would allow it, widened:',
      table(
        ['GRANT', 'DIFFERS', 'CALLER', 'METHODS', 'PATH PREFIXES'],
        d.nearest.map((n) => [n.grantId, n.differs.join(','), n.widened.caller, (n.widened.methods ?? ['*']).join(','), (n.widened.pathPrefixes ?? ['*']).join(',')]),
      ),
    );
  }
  return lines.join('\n');
}

type Action<A extends unknown[]> = (api: TrellisApi, out: Output, ...args: A) => Promise<void>;

/** Wraps an action: the API and the output for this invocation, from the global options. */
function act<A extends unknown[]>(fn: Action<A>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    await fn(apiFor(command), output(globalOptions(command)), ...(args.slice(0, -1) as A));
  };
}

interface RegisterOptions {
  spiffeId: string;
  principalArn?: string[];
  ttl?: number;
  dnsName?: string[];
}

interface UpdateOptions {
  principalArn?: string[];
  clearPrincipals?: boolean;
  ttl?: number;
  dnsName?: string[];
  revision?: number;
}

function addWorkloadCommands(program: Command): void {
  const workloads = program.command('workloads').description('register, list, read, change and delete workloads (SPIFFE IDs)');

  workloads
    .command('register')
    .description('register a workload\'s SPIFFE ID and who may fetch its SVID')
    .requiredOption('--spiffe-id <id>', 'the SPIFFE ID, e.g. spiffe://example.org/service/orders')
    .option('--principal-arn <arn>', 'an IAM principal that may submit CSRs and read the SVID (repeatable)', collect)
    .option('--ttl <seconds>', 'X.509-SVID lifetime, 300 to 604800 (default 3600)', parseInteger('--ttl'))
    .option('--dns-name <name>', 'a DNS name the SVID may carry (repeatable)', collect)
    .action(
      act<[RegisterOptions]>(async (api, out, o) => {
        const workload = await api.registerWorkload({
          spiffeId: o.spiffeId,
          selectors: { awsPrincipalArns: o.principalArn ?? [] },
          ...(o.ttl === undefined ? {} : { x509SvidTtlSeconds: o.ttl }),
          ...(o.dnsName === undefined ? {} : { dnsNames: o.dnsName }),
        });
        out.result(workload, () => `registered ${workload.spiffeId}\n${describeWorkload(workload)}`);
      }),
    );

  workloads
    .command('list')
    .description('list every workload (all pages)')
    .action(
      act<[]>(async (api, out) => {
        const items = await api.listWorkloads();
        out.result({ items }, () => workloadTable(items));
      }),
    );

  workloads
    .command('get')
    .description('show one workload')
    .argument('<id-or-spiffe-id>', 'the entry id (wl-…) or the SPIFFE ID')
    .action(
      act<[string]>(async (api, out, ref) => {
        const workload = await api.findWorkload(ref);
        out.result(workload, () => describeWorkload(workload));
      }),
    );

  workloads
    .command('update')
    .description('change a workload\'s principals, TTL or DNS names (reads its revision and sends If-Match)')
    .argument('<id-or-spiffe-id>', 'the entry id (wl-…) or the SPIFFE ID')
    .option('--principal-arn <arn>', 'replace the principals with these (repeatable)', collect)
    .option('--clear-principals', 'remove every principal (only administrators may then fetch its SVID)')
    .option('--ttl <seconds>', 'new X.509-SVID lifetime, 300 to 604800', parseInteger('--ttl'))
    .option('--dns-name <name>', 'replace the DNS names with these (repeatable)', collect)
    .option('--revision <n>', 'the revision the change is based on (default: the one just read)', parseInteger('--revision'))
    .action(
      act<[string, UpdateOptions]>(async (api, out, ref, o) => {
        const current = await api.findWorkload(ref);
        const principals = o.clearPrincipals === true ? [] : (o.principalArn ?? current.selectors.awsPrincipalArns);
        const workload = await api.updateWorkload(current.id, o.revision ?? current.revision, {
          selectors: { awsPrincipalArns: principals },
          x509SvidTtlSeconds: o.ttl ?? current.x509SvidTtlSeconds,
          dnsNames: o.dnsName ?? current.dnsNames,
        });
        out.result(workload, () => `updated ${workload.spiffeId} (revision ${workload.revision})\n${describeWorkload(workload)}`);
      }),
    );

  workloads
    .command('revoke')
    .description('revoke the workload\'s current SVID: its sessions are denied by every auth policy in seconds, new ones refused once the CRL is imported; the entry stays (submit a new CSR for a new SVID)')
    .argument('<id-or-spiffe-id>', 'the entry id (wl-…) or the SPIFFE ID')
    .requiredOption('--reason <reason>', `RFC 5280 reason: ${REVOCATION_REASONS.join(', ')}`, parseRevocationReason)
    .action(
      act<[string, { reason: string }]>(async (api, out, ref, o) => {
        const workload = await api.findWorkload(ref);
        const revoked = await api.revokeSvid(workload.id, o.reason);
        out.result(revoked, `revoked ${revoked.spiffeId} serial ${revoked.serialNumber} (${revoked.reason}); its sessions are denied until ${revoked.notAfter}`);
      }),
    );

  workloads
    .command('delete')
    .description('delete a workload (its certificates are revoked, its exact-ID grants removed)')
    .argument('<id-or-spiffe-id>', 'the entry id (wl-…) or the SPIFFE ID')
    .action(
      act<[string]>(async (api, out, ref) => {
        const workload = await api.findWorkload(ref);
        await api.deleteWorkload(workload.id);
        out.result({ deleted: workload.id, spiffeId: workload.spiffeId }, `deleted ${workload.spiffeId} (${workload.id})`);
      }),
    );
}

/** The reasons the API accepts (RFC 5280 names); checked here so that a typo fails before any call. */
const REVOCATION_REASONS = ['unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'privilegeWithdrawn', 'aACompromise'];

function parseRevocationReason(value: string): string {
  if (!REVOCATION_REASONS.includes(value)) throw new InvalidArgumentError(`one of ${REVOCATION_REASONS.join(', ')}`);
  return value;
}

interface GrantAddOptions {
  caller: string;
  service: string;
  method?: string[];
  pathPrefix?: string[];
  deny?: boolean;
  dryRun?: boolean;
  wait?: number | true;
}

const waitSeconds = (value: number | true): number => (value === true ? 30 : value);

/**
 * Polls the service's policy view until the applied policy is the compilation of the current grants
 * (the sync is asynchronous: GrantChanged → policy sync → PutAuthPolicy), so a script can call the
 * service right after `grants add --wait`.
 */
async function waitForPolicy(api: TrellisApi, service: string, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    const policy = await api.getServicePolicy(service);
    if (policy.state === 'in-sync') return;
    if (policy.state === 'failed') {
      throw new WorkloadEdgeError('PolicyNotApplied', `the auth policy of ${service} cannot be applied: ${policy.compiled.error?.message ?? 'the grants do not compile'}`, `run \`trellis policy show ${service}\` and follow its suggestions`);
    }
    if (Date.now() + delay > deadline) {
      throw new WorkloadEdgeError('PolicyNotYetApplied', `the auth policy of ${service} is still ${policy.state} after ${seconds} s`, `check the policy-sync function's logs; \`trellis policy show ${service}\` shows the state`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function addGrantCommands(program: Command): void {
  const grants = program.command('grants').description('who may call which Lattice service');

  grants
    .command('add')
    .description('allow a caller (SPIFFE ID, or prefix ending in /*) to call a service, or with --deny carve an exception out of the allows')
    .requiredOption('--caller <spiffe-id>', 'an exact SPIFFE ID, or a prefix spiffe://<trust-domain>/<path>/*')
    .requiredOption('--service <name>', 'the managed service (see `trellis services list`)')
    .option('--method <method>', 'only this HTTP method (repeatable; default every method)', collect)
    .option('--path-prefix <prefix>', 'only paths under this prefix (repeatable; default every path)', collect)
    .option('--deny', 'a deny grant: refuse these calls even where an allow grant admits them')
    .option('--dry-run', 'change nothing: show the policy statements added and removed, the new size and whose access changes')
    .option('--wait [seconds]', 'return once the service\'s auth policy enforces the change (default 30 s)', parseInteger('--wait'))
    .action(
      act<[GrantAddOptions]>(async (api, out, o) => {
        const input = {
          service: o.service,
          ...(o.deny === true ? { effect: 'Deny' as const } : {}),
          caller: o.caller,
          ...(o.method === undefined ? {} : { methods: o.method }),
          ...(o.pathPrefix === undefined ? {} : { pathPrefixes: o.pathPrefix }),
        };
        if (o.dryRun === true) {
          const preview = await api.previewCreateGrant(input);
          out.result(preview, () => describePreview(preview));
          return;
        }
        const grant = await api.createGrant(input);
        if (o.wait !== undefined) await waitForPolicy(api, grant.service, waitSeconds(o.wait));
        out.result(grant, () => `${grant.effect === 'Deny' ? 'denied' : 'granted'} ${grant.caller} → ${grant.service}${o.wait === undefined ? '' : ' (enforced)'}\n${grantTable([grant])}`);
      }),
    );

  grants
    .command('apply')
    .description('make each service listed in a grants file have exactly the grants listed under it (services not listed are left alone); applying the same file again changes nothing')
    .requiredOption('-f, --file <grants.yaml>', 'the grants file: services: { <service>: [ { caller, effect?, methods?, pathPrefixes? } ] }')
    .option('--dry-run', 'change nothing: show what each service would gain and lose')
    .action(
      act<[{ file: string; dryRun?: boolean }]>(async (api, out, o) => {
        let text: string;
        try {
          text = readFileSync(o.file, 'utf8');
        } catch (error) {
          throw new WorkloadEdgeError('GrantsFileUnreadable', `cannot read ${o.file}: ${error instanceof Error ? error.message : String(error)}`, 'pass the path of a grants file with -f');
        }
        const desired = await parseGrantsFile(text, o.file);
        const results: GrantSetResult[] = [];
        for (const service of desired.services) results.push(await api.replaceGrantSet(service.name, service.grants, { dryRun: o.dryRun === true }));
        out.result({ dryRun: o.dryRun === true, services: results }, () => describeApply(results, o.dryRun === true));
      }),
    );

  grants
    .command('list')
    .description('list grants (all pages), optionally of one service or caller')
    .option('--service <name>', 'only grants of this service')
    .option('--caller <spiffe-id>', 'only grants naming exactly this caller')
    .action(
      act<[{ service?: string; caller?: string }]>(async (api, out, o) => {
        const items = await api.listGrants({ ...(o.service === undefined ? {} : { service: o.service }), ...(o.caller === undefined ? {} : { caller: o.caller }) });
        out.result({ items }, () => grantTable(items));
      }),
    );

  grants
    .command('remove')
    .description('remove a grant')
    .argument('<id>', 'the grant id (gr-…, see `trellis grants list`)')
    .option('--dry-run', 'change nothing: show the policy statements removed, the new size and whose access changes')
    .option('--wait [seconds]', 'return once the service\'s auth policy enforces the change (default 30 s)', parseInteger('--wait'))
    .action(
      act<[string, { wait?: number | true; dryRun?: boolean }]>(async (api, out, id, o) => {
        if (o.dryRun === true) {
          const preview = await api.previewDeleteGrant(id);
          out.result(preview, () => describePreview(preview));
          return;
        }
        const service = o.wait === undefined ? undefined : (await api.getGrant(id)).service;
        await api.deleteGrant(id);
        if (service !== undefined && o.wait !== undefined) await waitForPolicy(api, service, waitSeconds(o.wait));
        out.result({ deleted: id }, `removed grant ${id}${service === undefined ? '' : ' (enforced)'}`);
      }),
    );
}

export function addAdminCommands(program: Command): void {
  addWorkloadCommands(program);
  addGrantCommands(program);

  const services = program.command('services').description('the Lattice services whose auth policies Trellis manages');
  services
    .command('list')
    .description('list the managed services')
    .action(
      act<[]>(async (api, out) => {
        const items = await api.listServices();
        out.result({ items }, () => serviceTable(items));
      }),
    );

  const policy = program.command('policy').description('the auth policies compiled from the grants');
  policy
    .command('show')
    .description('show a service\'s compiled and applied auth policy and its sync state')
    .argument('<service>', 'the managed service name')
    .action(
      act<[string]>(async (api, out, service) => {
        const view = await api.getServicePolicy(service);
        out.result(view, () => describePolicy(view));
      }),
    );

  policy
    .command('matrix')
    .description('who may call what: the callers (rows) × services (columns) of the current grants')
    .action(
      act<[]>(async (api, out) => {
        const services = await api.listServices();
        const grants = await api.listGrants();
        const names = services.map((s) => s.name).sort();
        const callers = [...new Set(grants.map((g) => g.caller))].sort();
        const cells: Record<string, Record<string, string[]>> = {};
        for (const g of grants) ((cells[g.caller] ??= {})[g.service] ??= []).push(grantSummary(g));
        for (const row of Object.values(cells)) for (const list of Object.values(row)) list.sort();
        out.result({ services: names, callers, cells }, () =>
          callers.length === 0 ? 'no grants' : table(['CALLER', ...names.map((n) => n.toUpperCase())], callers.map((c) => [c, ...names.map((n) => (cells[c]?.[n] ?? []).join('; '))])),
        );
      }),
    );

  policy
    .command('explain')
    .description('why a call of a SPIFFE ID to a service is allowed or denied by the auth policy Lattice has applied, and what would allow it')
    .requiredOption('--service <name>', 'the managed service')
    .requiredOption('--caller <spiffe-id>', 'the SPIFFE ID making the call')
    .option('--method <method>', 'the HTTP method (default GET)')
    .option('--path <path>', 'the request path (default /)')
    .action(
      act<[{ service: string; caller: string; method?: string; path?: string }]>(async (api, out, o) => {
        const answer = await api.explainDecision(o.service, { caller: o.caller, ...(o.method === undefined ? {} : { method: o.method }), ...(o.path === undefined ? {} : { path: o.path }) });
        out.result(answer, () => describeDecision(answer));
      }),
    );
}
