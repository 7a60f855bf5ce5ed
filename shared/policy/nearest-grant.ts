/**
 * For a request no grant allows: the allow grants that come closest, and how each would have to
 * widen to admit it (another method, another path, its caller a prefix some segments up). Pure:
 * it reads grants in the compiler's meaning ({@link grantMatches}), never a policy, so it answers
 * the same whatever Lattice currently has applied.
 */
import { effectOf, grantMatches, type Grant, type GrantRequest } from './compiler';

export type Mismatch = 'caller' | 'method' | 'path';

export interface NearMiss {
  grantId: string;
  /** The dimensions the grant does not admit, in the order caller, method, path. */
  differs: Mismatch[];
  /** The grant widened just enough: it admits the request (unless a deny grant matches it too). */
  widened: { caller: string; methods?: string[]; pathPrefixes?: string[] };
  /** For a caller mismatch: how many path segments the grant's caller moves up (0 otherwise). */
  segmentsUp: number;
}

/**
 * The prefix literal (ending in "/") closest to `literal` that also covers `callerUri`, and how many
 * segments `literal` loses to reach it; undefined when they share no trust domain.
 */
function sharedPrefix(literal: string, callerUri: string): { prefix: string; segmentsUp: number } | undefined {
  const split = (uri: string): { td: string; segments: string[] } | undefined => {
    const m = /^spiffe:\/\/([^/]+)\/(.*)$/.exec(uri);
    return m ? { td: m[1] as string, segments: (m[2] as string).split('/').filter((s) => s !== '') } : undefined;
  };
  const grant = split(literal);
  const caller = split(callerUri);
  if (!grant || !caller || grant.td !== caller.td) return undefined;
  let common = 0;
  // A prefix must leave at least one segment of the caller below it.
  while (common < grant.segments.length && common < caller.segments.length - 1 && grant.segments[common] === caller.segments[common]) common += 1;
  const prefix = `spiffe://${grant.td}/${caller.segments.slice(0, common).map((s) => `${s}/`).join('')}`;
  return { prefix, segmentsUp: grant.segments.length - common };
}

/** The allow grants nearest to admitting `request`, best first: fewest mismatches, then fewest segments up, then id. */
export function nearestAllowing(grants: readonly Grant[], request: GrantRequest, limit = 3): NearMiss[] {
  const misses: NearMiss[] = [];
  for (const grant of grants) {
    if (effectOf(grant) !== 'Allow') continue;
    const differs: Mismatch[] = [];
    let caller = grant.caller;
    let segmentsUp = 0;
    if (!grantMatches({ id: grant.id, caller: grant.caller }, request)) {
      const literal = grant.caller.endsWith('/*') ? grant.caller.slice(0, -1) : grant.caller;
      const shared = sharedPrefix(literal, request.callerUri);
      if (shared === undefined) continue;
      differs.push('caller');
      caller = `${shared.prefix}*`;
      segmentsUp = shared.segmentsUp;
    }
    const methodOk = grant.methods === undefined || grant.methods.includes(request.method);
    const pathOk = grant.pathPrefixes === undefined || grant.pathPrefixes.some((p) => request.path.startsWith(p));
    if (!methodOk) differs.push('method');
    if (!pathOk) differs.push('path');
    if (differs.length === 0) continue;
    misses.push({
      grantId: grant.id,
      differs,
      widened: {
        caller,
        ...(grant.methods === undefined ? {} : { methods: methodOk ? [...grant.methods] : [...grant.methods, request.method].sort() }),
        ...(grant.pathPrefixes === undefined ? {} : { pathPrefixes: pathOk ? [...grant.pathPrefixes] : [...grant.pathPrefixes, request.path].sort() }),
      },
      segmentsUp,
    });
  }
  return misses
    .sort((a, b) => a.differs.length - b.differs.length || a.segmentsUp - b.segmentsUp || (a.grantId < b.grantId ? -1 : a.grantId > b.grantId ? 1 : 0))
    .slice(0, limit);
}
