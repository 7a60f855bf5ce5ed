/**
 * What every `trellis` command shares: the global options, where the endpoints come from (the local
 * stack's `.trellis/endpoints.json`, or a deployed stage given with --api/--region), machine or human
 * output, and the mapping of failures to exit codes (0 ok, 1 refused or failed, 2 usage).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ApiError } from '../api-client';
import { WorkloadEdgeError } from '../edge-error';

// ApiError lives with the API client that throws it; re-exported for the commands that catch it.
export { ApiError };

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A command line that cannot be carried out as written (exit 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The part of the local stack's endpoints.json the CLI reads (a deployed stage has only api and region). */
export interface Endpoints {
  /** The control-plane API base URL, e.g. http://127.0.0.1:3000/local. */
  api: string;
  region: string;
  stage?: string;
  rolesAnywhere?: string;
  workloadIdentity?: { trustAnchorArn: string; profileArn: string; workloadRoleArn: string };
  /** Lattice service name → base URL of its (local) data-plane endpoint. */
  services?: Record<string, string>;
  /** PEM file of the CA that signed the local data plane's TLS certificates. */
  servicesCaFile?: string;
}

export interface GlobalOptions {
  json: boolean;
  /** A deployed stage's API URL: calls are signed with SigV4 (execute-api) from the AWS credential chain. */
  api?: string;
  region?: string;
  /** endpoints.json to read instead of $TRELLIS_ENDPOINTS or ./.trellis/endpoints.json. */
  endpoints?: string;
}

export function globalOptions(command: Command): GlobalOptions {
  const o = command.optsWithGlobals<Partial<GlobalOptions>>();
  return {
    json: o.json === true,
    ...(o.api === undefined ? {} : { api: o.api }),
    ...(o.region === undefined ? {} : { region: o.region }),
    ...(o.endpoints === undefined ? {} : { endpoints: o.endpoints }),
  };
}

/** The endpoints file: --endpoints, else $TRELLIS_ENDPOINTS, else .trellis/endpoints.json in the current directory. */
export function endpointsFile(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(options.endpoints ?? env.TRELLIS_ENDPOINTS ?? '.trellis/endpoints.json');
}

/**
 * The endpoints to use: with --api, that stage (region from --region or AWS_REGION); otherwise the
 * local stack's endpoints.json. Local-only entries (rolesAnywhere, workloadIdentity, services) are
 * absent for a deployed stage: commands that need them ask for them as options.
 */
export function loadEndpoints(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Endpoints {
  if (options.api !== undefined) {
    const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (region === undefined) throw new UsageError('--api needs --region <region> (or AWS_REGION): API calls to a deployed stage are signed for its region');
    return { api: options.api.replace(/\/+$/, ''), region };
  }
  const file = endpointsFile(options, env);
  if (!existsSync(file)) {
    throw new WorkloadEdgeError(
      'EndpointsNotFound',
      `no local stack endpoints at ${file}`,
      'start the local stack with `npm start` (it writes .trellis/endpoints.json), run from the directory that holds .trellis/, set TRELLIS_ENDPOINTS, or pass --api <url> --region <region> for a deployed stage',
    );
  }
  let parsed: Endpoints;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Endpoints;
  } catch (error) {
    throw new WorkloadEdgeError('EndpointsInvalid', `${file} is not valid JSON`, 'restart the local stack with `npm start` to write it again', { cause: error });
  }
  if (typeof parsed.api !== 'string' || typeof parsed.region !== 'string') {
    throw new WorkloadEdgeError('EndpointsInvalid', `${file} has no "api" and "region"`, 'restart the local stack with `npm start` to write it again');
  }
  return { ...parsed, ...(options.region === undefined ? {} : { region: options.region }) };
}

/** Output: results on stdout (JSON with --json, text otherwise); progress and errors on stderr. */
export interface Output {
  result(json: unknown, human: string | (() => string)): void;
  info(line: string): void;
}

export function output(options: GlobalOptions, streams: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process): Output {
  return {
    result(json, human) {
      streams.stdout.write(options.json ? `${JSON.stringify(json, null, 2)}\n` : `${typeof human === 'function' ? human() : human}\n`);
    },
    info(line) {
      if (!options.json) streams.stderr.write(`${line}\n`);
    },
  };
}

/** Prints a failure (code, message, what to do) and returns the exit code. */
export function reportError(error: unknown, json: boolean, stderr: NodeJS.WritableStream = process.stderr): number {
  const describe = (): { exit: number; code: string; message: string; fix?: string; status?: number; details?: unknown } => {
    if (error instanceof UsageError) return { exit: EXIT.usage, code: 'Usage', message: error.message, fix: 'see `trellis <command> --help`' };
    if (error instanceof WorkloadEdgeError) return { exit: EXIT.failed, code: error.code, message: error.message, fix: error.fix };
    if (error instanceof ApiError) {
      return { exit: EXIT.failed, code: error.code, message: error.message, status: error.status, ...(error.fix === undefined ? {} : { fix: error.fix }), ...(error.details === undefined ? {} : { details: error.details }) };
    }
    const message = error instanceof Error ? error.message : String(error);
    return { exit: EXIT.failed, code: 'Failed', message };
  };
  const d = describe();
  if (json) {
    stderr.write(`${JSON.stringify({ error: { code: d.code, message: d.message, ...(d.status === undefined ? {} : { status: d.status }), ...(d.fix === undefined ? {} : { fix: d.fix }), ...(d.details === undefined ? {} : { details: d.details }) } })}\n`);
  } else {
    stderr.write(`trellis: ${d.code}${d.status === undefined ? '' : ` (HTTP ${d.status})`}: ${d.message}\n`);
    if (Array.isArray(d.details)) {
      for (const item of d.details as { field?: string; rule?: string; message?: string }[]) stderr.write(`  - ${item.field ?? '?'}: ${item.message ?? ''}${item.rule ? ` [${item.rule}]` : ''}\n`);
    }
    if (d.fix !== undefined) stderr.write(`  fix: ${d.fix}\n`);
  }
  return d.exit;
}
