/** `trellis credential-process` and `trellis call`: AWS credentials from the SVID, and calls to Lattice services. */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { WorkloadEdgeError } from '../edge-error';
import { rolesAnywhereEndpoint } from '../from-svid';
import { mtlsFetch } from '../mtls-request';
import { credentialProcessJson, sessionForSvidDir } from '../session-cache';
import { signedFetch } from '../sigv4-request';
import { loadSvidMaterial } from '../svid-material';
import type { RolesAnywhereSettings } from '../workload';
import { EXIT, globalOptions, loadEndpoints, output, UsageError, type Endpoints, type GlobalOptions } from './context';

interface SessionOptions {
  svidDir?: string;
  trustAnchorArn?: string;
  profileArn?: string;
  roleArn?: string;
  endpoint?: string;
  cacheDir?: string;
  durationSeconds?: number;
}

interface CallOptions extends SessionOptions {
  method: string;
  data?: string;
  header: string[];
  mtls?: boolean;
  url?: string;
  ca?: string;
  profile?: string;
}

function durationSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 900 || n > 43_200) throw new InvalidArgumentError('an integer from 900 to 43200 (Roles Anywhere\'s limits)');
  return n;
}

function collectHeader(value: string, previous: string[]): string[] {
  if (!/^[^:\s]+:/.test(value)) throw new InvalidArgumentError('write it as \'Name: value\'');
  return [...previous, value];
}

/** The options both commands take to get a Roles Anywhere session (they are the command's own, so `--help` lists them). */
function addSessionOptions(command: Command, svidDir: 'required' | 'optional' = 'required'): Command {
  const svidDirOption = new Option('--svid-dir <dir>', 'the SVID directory (svid.pem, svid-key.pem, bundle.pem) that `trellis svid fetch` writes');
  return command
    // --region (and --endpoints, --json) are the program's options; list them in this command's help too.
    .configureHelp({ showGlobalOptions: true })
    .addOption(svidDir === 'required' ? svidDirOption.makeOptionMandatory() : svidDirOption)
    .addOption(new Option('--trust-anchor-arn <arn>', 'the Roles Anywhere trust anchor (default: workloadIdentity.trustAnchorArn of the local endpoints.json)'))
    .addOption(new Option('--profile-arn <arn>', 'the Roles Anywhere profile (default: workloadIdentity.profileArn of the local endpoints.json)'))
    .addOption(new Option('--role-arn <arn>', 'the IAM role to assume (default: workloadIdentity.workloadRoleArn of the local endpoints.json)'))
    .addOption(new Option('--endpoint <url>', 'the Roles Anywhere endpoint (default: rolesAnywhere of the local endpoints.json, else https://rolesanywhere.<region>.amazonaws.com)'))
    .addOption(new Option('--cache-dir <dir>', 'where sessions are cached, shared by concurrent invocations (default ~/.cache/trellis)'))
    .addOption(new Option('--duration-seconds <seconds>', 'session lifetime, 900 to 43200 (default: the profile\'s, 3600)').argParser(durationSeconds));
}

/** endpoints.json when it exists (the local stack); a deployed stage has no file, and options say everything. */
function localEndpoints(global: GlobalOptions): Endpoints | undefined {
  try {
    return loadEndpoints(global);
  } catch (error) {
    if (error instanceof WorkloadEdgeError && error.code === 'EndpointsNotFound') return undefined;
    throw error;
  }
}

/** The region requests are signed for: --region, else the local endpoints.json's, else the AWS environment's. */
function regionFor(global: Pick<GlobalOptions, 'region'>, endpoints: Endpoints | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return global.region ?? endpoints?.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
}

/** The Roles Anywhere settings from the options, defaulting from the local endpoints.json; a UsageError names what is missing. */
export function resolveSessionSettings(options: SessionOptions, global: Pick<GlobalOptions, 'region'>, endpoints: Endpoints | undefined, env: NodeJS.ProcessEnv = process.env): RolesAnywhereSettings {
  const identity = endpoints?.workloadIdentity;
  const region = regionFor(global, endpoints, env);
  const picked = {
    '--trust-anchor-arn': options.trustAnchorArn ?? identity?.trustAnchorArn,
    '--profile-arn': options.profileArn ?? identity?.profileArn,
    '--role-arn': options.roleArn ?? identity?.workloadRoleArn,
    '--region': region,
  };
  const missing = Object.entries(picked)
    .filter(([, value]) => value === undefined)
    .map(([name]) => name);
  if (missing.length > 0) {
    throw new UsageError(`missing ${missing.join(', ')}: pass ${missing.length === 1 ? 'it' : 'them'}, or run against the local stack (npm start writes them to .trellis/endpoints.json; see --endpoints)`);
  }
  return {
    endpoint: options.endpoint ?? endpoints?.rolesAnywhere ?? rolesAnywhereEndpoint(region ?? ''),
    region: region ?? '',
    trustAnchorArn: picked['--trust-anchor-arn'] ?? '',
    profileArn: picked['--profile-arn'] ?? '',
    roleArn: picked['--role-arn'] ?? '',
    ...(options.durationSeconds === undefined ? {} : { durationSeconds: options.durationSeconds }),
  };
}

/** Where `trellis call` sends: --url, else the local data plane's address of the service. */
export function resolveServiceUrl(service: string, path: string, options: Pick<CallOptions, 'url'>, endpoints: Endpoints | undefined): string {
  const base = options.url ?? endpoints?.services?.[service];
  if (base === undefined) {
    const known = Object.keys(endpoints?.services ?? {});
    throw new UsageError(
      known.length > 0
        ? `no local service "${service}" (the local stack has ${known.join(', ')}); for a deployed service pass --url <its Lattice base URL>`
        : `pass --url <the service's base URL>: there is no local stack endpoints.json to look "${service}" up in`,
    );
  }
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf(':');
    headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return headers;
}

function requireSvidDir(options: Pick<SessionOptions, 'svidDir'>): string {
  if (options.svidDir === undefined) throw new UsageError('pass --svid-dir <dir> (the directory `trellis svid fetch` writes)');
  return options.svidDir;
}

const readPem = (file: string, what: string): string => {
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`${what} ${path} does not exist`);
  return readFileSync(path, 'utf8');
};

export function addCredentialCommands(program: Command): void {
  addSessionOptions(
    program
      .command('credential-process')
      .description('print AWS credentials for the SVID as credential_process JSON (Version 1), from IAM Roles Anywhere; sessions are cached until 5 minutes before expiry')
      .addHelpText('after', '\nIn ~/.aws/config:\n  [profile orders]\n  credential_process = trellis credential-process --svid-dir /run/trellis --trust-anchor-arn … --profile-arn … --role-arn … --region …'),
  ).action(async (options: SessionOptions, command: Command) => {
    const global = globalOptions(command);
    const settings = resolveSessionSettings(options, global, localEndpoints(global));
    const { credentials } = await sessionForSvidDir({ svidDir: requireSvidDir(options), settings, ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }) });
    // Always JSON, and nothing else on stdout: the SDK parses all of it.
    process.stdout.write(`${JSON.stringify(credentialProcessJson(credentials))}\n`);
  });

  addSessionOptions(
    program
      .command('call')
      .description('call a VPC Lattice service as the SVID: SigV4 (vpc-lattice-svcs) with Roles Anywhere credentials, or --mtls with the SVID itself')
      .argument('<service>', 'the service name (looked up in the local endpoints.json unless --url is given)')
      .argument('<path>', 'the request path, with any query string, e.g. /charges?month=2024-05'),
    'optional',
  )
    .addOption(new Option('--profile <name>', 'sign with the credentials of this AWS profile (e.g. one whose credential_process is `trellis credential-process`) instead of --svid-dir'))
    .addOption(new Option('--method <method>', 'the HTTP method').default('GET'))
    .addOption(new Option('--data <body>', 'the request body (sent as is; the payload is not signed: Lattice uses UNSIGNED-PAYLOAD)'))
    .addOption(new Option('--header <header>', "a request header 'Name: value' (repeatable)").argParser(collectHeader).default([]))
    .addOption(new Option('--mtls', 'authenticate with the SVID as TLS client certificate instead of SigV4 (the local data plane only)'))
    .addOption(new Option('--url <base>', 'the service\'s base URL (required for a deployed stage; default: services.<service> of the local endpoints.json)'))
    .addOption(new Option('--ca <file>', 'PEM file of the CA to trust for the service\'s TLS certificate (default: servicesCaFile of the local endpoints.json)'))
    .action(async (service: string, path: string, options: CallOptions, command: Command) => {
      const global = globalOptions(command);
      const out = output(global);
      const endpoints = localEndpoints(global);
      const url = resolveServiceUrl(service, path, options, endpoints);
      const caFile = options.ca ?? endpoints?.servicesCaFile;
      const ca = caFile === undefined ? undefined : readPem(caFile, options.ca === undefined ? 'servicesCaFile of endpoints.json:' : '--ca');
      const headers = parseHeaders(options.header);
      const request = {
        url,
        method: options.method,
        headers,
        ...(options.data === undefined ? {} : { body: options.data }),
        ...(ca === undefined ? {} : { ca }),
      };
      let response;
      if (options.mtls === true) {
        process.stderr.write('note: VPC Lattice authenticates callers only with SigV4; mTLS with the SVID is accepted by the local data plane alone\n');
        const svid = await loadSvidMaterial(requireSvidDir(options));
        response = await mtlsFetch({ ...request, certificatePem: svid.certificatePem, chainPems: svid.chainPems, privateKey: svid.keyPem });
      } else if (options.profile !== undefined) {
        if (options.svidDir !== undefined) throw new UsageError('pass --profile or --svid-dir, not both: they are two sources of credentials');
        // The AWS SDK's own profile resolution (credential_process included), loaded only here.
        const { fromIni } = await import('@aws-sdk/credential-providers');
        const credentials = await fromIni({ profile: options.profile })();
        const region = regionFor(global, endpoints);
        if (region === undefined) throw new UsageError('--profile needs --region (or AWS_REGION): the request is signed for the service\'s region');
        response = await signedFetch({ ...request, region, credentials });
      } else {
        const settings = resolveSessionSettings(options, global, endpoints);
        const { credentials } = await sessionForSvidDir({ svidDir: requireSvidDir(options), settings, ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }) });
        response = await signedFetch({
          ...request,
          region: settings.region,
          credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken },
        });
      }
      const { status, headers: responseHeaders, body } = response;
      out.result({ status, headers: responseHeaders, body }, () => `HTTP ${status}\n${body}`);
      process.exitCode = status >= 200 && status <= 299 ? EXIT.ok : EXIT.failed;
    });
}
