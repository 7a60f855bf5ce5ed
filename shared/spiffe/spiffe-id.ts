/**
 * SPIFFE IDs, parsed and validated exactly per the SPIFFE ID specification
 * (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md, section 2).
 * Every rejection names the rule it broke, so an API error can say what to fix.
 *
 * Hand-written on purpose: WHATWG/RFC 3986 URL parsers normalise (lower-case, resolve dot
 * segments, decode) exactly the inputs the spec says must be refused, so a URL library would
 * accept IDs the spec forbids.
 */

export type SpiffeIdRule =
  | 'scheme'
  | 'trust-domain-missing'
  | 'trust-domain-chars'
  | 'port'
  | 'userinfo'
  | 'query'
  | 'fragment'
  | 'percent-encoding'
  | 'empty-segment'
  | 'dot-segment'
  | 'trailing-slash'
  | 'path-chars'
  | 'max-length'
  | 'trust-domain-mismatch'
  | 'path-required'
  | 'san-max-length'
  | 'prefix-form';

export interface SpiffeId {
  /** The ID exactly as given (it is already canonical once it parses). */
  readonly uri: string;
  readonly trustDomain: string;
  /** '' for a trust-domain ID, else '/seg/seg'. */
  readonly path: string;
  readonly segments: readonly string[];
}

export type SpiffeIdResult =
  | { ok: true; id: SpiffeId }
  | { ok: false; rule: SpiffeIdRule; message: string };

const SCHEME_PREFIX = 'spiffe://';
/** Spec section 2.4: at most 2048 bytes. */
export const SPIFFE_ID_MAX_BYTES = 2048;
/** ACM PCA ApiPassthrough `UniformResourceIdentifier` is limited to 253 characters. */
export const WORKLOAD_ID_MAX_CHARS = 253;

const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
const SEGMENT_CHARS = /^[a-zA-Z0-9._-]+$/;

const fail = (rule: SpiffeIdRule, message: string): SpiffeIdResult => ({ ok: false, rule, message });

export function parseSpiffeId(input: string): SpiffeIdResult {
  if (Buffer.byteLength(input, 'utf8') > SPIFFE_ID_MAX_BYTES) {
    return fail('max-length', `a SPIFFE ID is at most ${SPIFFE_ID_MAX_BYTES} bytes`);
  }
  if (!input.startsWith(SCHEME_PREFIX)) {
    return fail('scheme', 'a SPIFFE ID starts with the scheme "spiffe://" (lower case)');
  }
  if (input.includes('#')) return fail('fragment', 'a SPIFFE ID has no fragment ("#")');
  if (input.includes('?')) return fail('query', 'a SPIFFE ID has no query ("?")');
  if (input.includes('%')) return fail('percent-encoding', 'a SPIFFE ID has no percent-encoded characters');

  const rest = input.slice(SCHEME_PREFIX.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);

  if (trustDomain.length === 0) return fail('trust-domain-missing', 'a SPIFFE ID names a trust domain after "spiffe://"');
  if (trustDomain.includes('@')) return fail('userinfo', 'a SPIFFE ID has no user info ("user@")');
  if (trustDomain.includes(':')) return fail('port', 'a SPIFFE ID trust domain has no port');
  if (!TRUST_DOMAIN_CHARS.test(trustDomain)) {
    return fail('trust-domain-chars', 'trust domain characters are limited to lowercase letters, digits, ".", "-" and "_"');
  }

  const segments: string[] = [];
  if (path.length > 0) {
    if (path === '/') return fail('trailing-slash', 'a SPIFFE ID path has no trailing slash');
    const parts = path.slice(1).split('/');
    for (let i = 0; i < parts.length; i += 1) {
      const seg = parts[i] ?? '';
      if (seg === '') {
        return i === parts.length - 1
          ? fail('trailing-slash', 'a SPIFFE ID path has no trailing slash')
          : fail('empty-segment', 'a SPIFFE ID path has no empty segments ("//")');
      }
      if (seg === '.' || seg === '..') return fail('dot-segment', 'a SPIFFE ID path has no "." or ".." segments');
      if (!SEGMENT_CHARS.test(seg)) {
        return fail('path-chars', 'path segment characters are limited to letters, digits, ".", "-" and "_"');
      }
      segments.push(seg);
    }
  }
  return { ok: true, id: { uri: input, trustDomain, path, segments } };
}

/**
 * A workload's SPIFFE ID: a valid SPIFFE ID in the stage's trust domain, with a path, short
 * enough to be an ACM PCA API-passthrough URI SAN.
 */
export function parseWorkloadId(input: string, trustDomain: string): SpiffeIdResult {
  const parsed = parseSpiffeId(input);
  if (!parsed.ok) return parsed;
  if (parsed.id.trustDomain !== trustDomain) {
    return fail('trust-domain-mismatch', `the SPIFFE ID must belong to the trust domain "${trustDomain}"`);
  }
  if (parsed.id.path === '') return fail('path-required', 'a workload SPIFFE ID has a path (spiffe://<trust domain>/<path>)');
  if (input.length > WORKLOAD_ID_MAX_CHARS) {
    return fail(
      'san-max-length',
      `a workload SPIFFE ID is at most ${WORKLOAD_ID_MAX_CHARS} characters: the longest URI SAN ACM Private CA accepts through API passthrough`,
    );
  }
  return parsed;
}

export interface SpiffeIdPrefix {
  /** The pattern as written, e.g. spiffe://example.org/service/* */
  readonly pattern: string;
  readonly trustDomain: string;
  /** The literal part before "*", always ending in "/" (e.g. spiffe://example.org/service/). */
  readonly literal: string;
}

export type SpiffeIdPrefixResult = { ok: true; prefix: SpiffeIdPrefix } | { ok: false; rule: SpiffeIdRule; message: string };

/**
 * A caller prefix `spiffe://<trust domain>/<path>/*` (or `spiffe://<trust domain>/*` for the whole
 * trust domain): the part before `/*` must itself be a valid SPIFFE ID in the trust domain, so the
 * only wildcard is the final `*`, matching one or more further path segments.
 */
export function parseSpiffeIdPrefix(input: string, trustDomain: string): SpiffeIdPrefixResult {
  if (!input.endsWith('/*')) {
    return { ok: false, rule: 'prefix-form', message: 'a caller prefix ends in "/*", e.g. spiffe://example.org/service/*' };
  }
  const base = input.slice(0, -2);
  const parsed = parseSpiffeId(base);
  if (!parsed.ok) return parsed;
  if (parsed.id.trustDomain !== trustDomain) {
    return { ok: false, rule: 'trust-domain-mismatch', message: `the caller must belong to the trust domain "${trustDomain}"` };
  }
  if (input.length > WORKLOAD_ID_MAX_CHARS) {
    return { ok: false, rule: 'san-max-length', message: `a caller prefix is at most ${WORKLOAD_ID_MAX_CHARS} characters, the longest SPIFFE ID Trellis issues` };
  }
  return { ok: true, prefix: { pattern: input, trustDomain, literal: `${base}/` } };
}
