/**
 * Whose access a grant change changes, computed from the grants' meaning ({@link grantsAllow}),
 * not from the policy text: the oracle the compiler is tested against, so the preview says what
 * the compiled policy will enforce.
 *
 * Only requests the changed grant matches can change verdict (adding or removing a grant changes
 * nothing else), so the requests examined are the changed grant's cells: each caller it names or
 * that another grant names below it, each method it lists (or every listed method and "any other"),
 * each path prefix it lists or another grant refines under it (or every listed prefix and "any
 * other"). A prefix stands for "the other IDs under it" and `*` for "any other method / path":
 * against the oracle's string matching, the text `spiffe://td/a/*` is under `spiffe://td/a/` and
 * its ancestors, equal to no exact ID and under no deeper prefix; `*` is in no method list and
 * starts with no path prefix.
 */
import { grantMatches, grantsAllow, HTTP_METHODS, type Grant } from './compiler';

export interface AccessChange {
  /** An exact SPIFFE ID, or a prefix `…/*` for the other IDs under it. */
  caller: string;
  /** A method, or `*` for every method no grant of the service names. */
  method: string;
  /** A path prefix (the paths starting with it), or `*` for every path under no prefix a grant of the service names. */
  pathPrefix: string;
  before: 'ALLOW' | 'DENY';
  after: 'ALLOW' | 'DENY';
}

const ANY = '*';
const literalOf = (caller: string): string => (caller.endsWith('/*') ? caller.slice(0, -1) : caller);

export function accessChanges(before: readonly Grant[], after: readonly Grant[], changed: Grant, limit = 200): { changes: AccessChange[]; truncated: boolean } {
  const others = [...before, ...after];
  const changedLiteral = literalOf(changed.caller);
  const callers = new Set<string>([changed.caller]);
  if (changed.caller.endsWith('/*')) {
    for (const g of others) if (literalOf(g.caller).startsWith(changedLiteral)) callers.add(g.caller);
  }
  const methods = new Set<string>(changed.methods ?? [...others.flatMap((g) => g.methods ?? []), ANY]);
  const paths = new Set<string>();
  if (changed.pathPrefixes === undefined) {
    for (const g of others) for (const p of g.pathPrefixes ?? []) paths.add(p);
    paths.add(ANY);
  } else {
    for (const p of changed.pathPrefixes) paths.add(p);
    for (const g of others) for (const p of g.pathPrefixes ?? []) if (changed.pathPrefixes.some((c) => p.startsWith(c))) paths.add(p);
  }
  // "Any other" only where one exists: every path starts with "/", and the methods may all be listed.
  if (paths.has('/')) paths.delete(ANY);
  if (HTTP_METHODS.every((m) => methods.has(m))) methods.delete(ANY);
  const changes: AccessChange[] = [];
  let truncated = false;
  for (const caller of [...callers].sort()) {
    for (const method of [...methods].sort()) {
      for (const pathPrefix of [...paths].sort()) {
        const request = { callerUri: caller, method, path: pathPrefix };
        if (!grantMatches(changed, request)) continue;
        const was = grantsAllow(before, request);
        const will = grantsAllow(after, request);
        if (was === will) continue;
        if (changes.length >= limit) {
          truncated = true;
          continue;
        }
        changes.push({ caller, method, pathPrefix, before: was ? 'ALLOW' : 'DENY', after: will ? 'ALLOW' : 'DENY' });
      }
    }
  }
  return { changes, truncated };
}
