/**
 * The declarative grants file of `trellis grants apply -f`: every service it lists gets exactly
 * the grants listed under it (PUT /services/{name}/grants); services it does not list are left
 * alone, and `name: []` removes all of a service's grants.
 *
 *   services:
 *     rates:
 *       - caller: spiffe://example.org/service/orders
 *       - caller: spiffe://example.org/team-a/*
 *         methods: [GET]
 *         pathPrefixes: [/v1/]
 *       - effect: Deny
 *         caller: spiffe://example.org/team-a/legacy/*
 *
 * Only the shape is checked here, naming the place (`services.rates[1].methods`); the rules of each
 * grant are the API's, which names `grants[i].<field>` in its answer.
 */
import { WorkloadEdgeError } from '../edge-error';
import type { GrantInput } from '../api-client';

export type DesiredGrant = Omit<GrantInput, 'service'>;

export interface GrantsFile {
  /** In file order. */
  services: { name: string; grants: DesiredGrant[] }[];
}

const GRANT_KEYS = new Set(['effect', 'caller', 'methods', 'pathPrefixes']);

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

function invalid(file: string, where: string, message: string): WorkloadEdgeError {
  return new WorkloadEdgeError('GrantsFileInvalid', `${file}: ${where}: ${message}`, 'correct the file: a map `services`, each service a list of grants with caller and optional effect (Allow or Deny), methods, pathPrefixes');
}

function stringList(value: unknown, file: string, where: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalid(file, where, 'is a list of strings');
  return value as string[];
}

/** Parses the YAML (or JSON, a subset) text of a grants file. */
export async function parseGrantsFile(text: string, file: string): Promise<GrantsFile> {
  // Loaded on demand: only this command needs a YAML parser. In the CLI bundle esbuild exposes the
  // package's CommonJS build as `default` only (see client/build.mjs), so take the API from there.
  const loaded = (await import('yaml')) as typeof import('yaml') & { default?: typeof import('yaml') };
  const parse = typeof loaded.parse === 'function' ? loaded.parse : (loaded.default as typeof import('yaml')).parse;
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw invalid(file, 'YAML', error instanceof Error ? error.message : String(error));
  }
  if (!isRecord(document) || !isRecord(document.services)) throw invalid(file, 'services', 'the file is a map with a map `services` (service name → list of grants)');
  const extra = Object.keys(document).filter((k) => k !== 'services');
  if (extra.length > 0) throw invalid(file, extra[0] as string, 'is not a key of a grants file (only `services`)');
  const services: GrantsFile['services'] = [];
  for (const [name, list] of Object.entries(document.services)) {
    const at = `services.${name}`;
    if (list === null) throw invalid(file, at, 'is a list of grants; write [] to remove every grant of the service');
    if (!Array.isArray(list)) throw invalid(file, at, 'is a list of grants');
    const grants = list.map((raw: unknown, i): DesiredGrant => {
      const where = `${at}[${i}]`;
      if (!isRecord(raw)) throw invalid(file, where, 'a grant is a map with at least `caller`');
      const unknownKey = Object.keys(raw).find((k) => !GRANT_KEYS.has(k));
      if (unknownKey !== undefined) throw invalid(file, `${where}.${unknownKey}`, 'is not a grant field (effect, caller, methods, pathPrefixes)');
      if (typeof raw.caller !== 'string') throw invalid(file, `${where}.caller`, 'is required: a SPIFFE ID or a prefix ending in /*');
      if (raw.effect !== undefined && raw.effect !== 'Allow' && raw.effect !== 'Deny') throw invalid(file, `${where}.effect`, 'is Allow (the default) or Deny');
      return {
        ...(raw.effect === 'Deny' ? { effect: 'Deny' as const } : {}),
        caller: raw.caller,
        ...(raw.methods === undefined ? {} : { methods: stringList(raw.methods, file, `${where}.methods`) }),
        ...(raw.pathPrefixes === undefined ? {} : { pathPrefixes: stringList(raw.pathPrefixes, file, `${where}.pathPrefixes`) }),
      };
    });
    services.push({ name, grants });
  }
  return { services };
}
