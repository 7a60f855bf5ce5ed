/**
 * The Lambda event VPC Lattice sends to a LAMBDA target, in both structure versions, parsed into one
 * normalised request; the caller identity claims it carries; and the response Lattice expects back.
 * Wire facts: docs/aws-behaviour.md, "VPC Lattice data plane › Lambda event" and "› Lambda response"
 * (AWS VPC Lattice UG, "Lambda functions as targets").
 *
 * Hand-written because no installed library types these events: @types/aws-lambda has no Lattice
 * trigger, and Powertools' parser (not installed) spells the claims `X509SubjectCn`/`principalOrgId`
 * and types V2 header values as strings, both contrary to the AWS doc.
 */
import { STATUS_CODES } from 'node:http';
import * as z from 'zod';

// ----------------------------------------------------------------------------------------------
// Wire shapes
// ----------------------------------------------------------------------------------------------

/**
 * V2 sends every header and query value as an ARRAY of strings (AWS doc). Powertools' schema types them
 * as plain strings; we accept both and normalise to arrays, so neither reading can break a caller.
 */
const multiValue = z.union([z.array(z.string()), z.string()]);
const multiValueMap = z.record(z.string(), multiValue);

/** Absent, null and a string all occur in typed Lattice models (Option/nullable); null means absent. */
const optionalText = z.string().nullish();

const identitySchema = z.object({
  sourceVpcArn: optionalText,
  type: optionalText,
  principal: optionalText,
  principalOrgID: optionalText,
  sessionName: optionalText,
  x509IssuerOu: optionalText,
  x509SanDns: optionalText,
  x509SanNameCn: optionalText,
  x509SanUri: optionalText,
  x509SubjectCn: optionalText,
  // Spellings used by Powertools (docs/aws-behaviour.md, "VPC Lattice data plane › Lambda event", claim
  // casing). The AWS doc spelling wins when both are present; these are read only as a fallback so a
  // claim is never lost to a casing disagreement.
  principalOrgId: optionalText,
  X509IssuerOu: optionalText,
  X509SanNameCn: optionalText,
  X509SubjectCn: optionalText,
});

type RawIdentity = z.infer<typeof identitySchema>;

/** A base64 body that does not decode cleanly is refused rather than silently mangled by Buffer.from. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const requireDecodableBody = (
  body: string | null | undefined,
  isBase64: boolean | null | undefined,
  bodyKey: string,
  ctx: z.RefinementCtx,
): void => {
  if (isBase64 === true && typeof body === 'string' && !BASE64.test(body)) {
    ctx.addIssue({ code: 'custom', path: [bodyKey], message: 'body is flagged base64-encoded but is not valid base64' });
  }
};

export const latticeEventV2Schema = z
  .object({
    version: z.literal('2.0'),
    // "only for HTTP/HTTPS/gRPC" per the doc; a Lambda target group is always HTTP(S), so it is
    // normally there. When absent we answer for '/'.
    path: z.string().optional(),
    method: z.string().min(1),
    headers: multiValueMap.nullish(),
    queryStringParameters: multiValueMap.nullish(),
    body: z.string().nullish(),
    isBase64Encoded: z.boolean().nullish(),
    requestContext: z.object({
      serviceNetworkArn: optionalText,
      serviceArn: optionalText,
      targetGroupArn: optionalText,
      identity: identitySchema.nullish(),
      region: optionalText,
      // A STRING of MICROseconds since the epoch, e.g. "1690497599177430". A JSON number is refused:
      // it would lose precision past 2^53 and is not what Lattice sends.
      timeEpoch: z.string().regex(/^\d{1,19}$/, 'timeEpoch must be a string of decimal microseconds'),
    }),
  })
  .superRefine((event, ctx) => requireDecodableBody(event.body, event.isBase64Encoded, 'body', ctx));

export const latticeEventV1Schema = z
  .object({
    raw_path: z.string(),
    method: z.string().min(1),
    headers: multiValueMap.nullish(),
    query_string_parameters: multiValueMap.nullish(),
    body: z.string().nullish(),
    is_base64_encoded: z.boolean().nullish(),
  })
  .superRefine((event, ctx) => requireDecodableBody(event.body, event.is_base64_encoded, 'body', ctx));

export type LatticeEventV2 = z.input<typeof latticeEventV2Schema>;
export type LatticeEventV1 = z.input<typeof latticeEventV1Schema>;

// ----------------------------------------------------------------------------------------------
// Identity claims
// ----------------------------------------------------------------------------------------------

/** The claim names, in the order they are logged and returned (AWS doc spelling). */
export const IDENTITY_CLAIMS = [
  'principal',
  'principalOrgID',
  'sessionName',
  'type',
  'x509SanUri',
  'x509SanDns',
  'x509SanNameCn',
  'x509SubjectCn',
  'x509IssuerOu',
  'sourceVpcArn',
] as const;

export type IdentityClaim = (typeof IDENTITY_CLAIMS)[number];

/** Only the claims Lattice actually sent; an absent (or null) claim has no key at all. */
export type CallerIdentity = Partial<Record<IdentityClaim, string>>;

const FALLBACK_SPELLING: Partial<Record<IdentityClaim, keyof RawIdentity>> = {
  principalOrgID: 'principalOrgId',
  x509IssuerOu: 'X509IssuerOu',
  x509SanNameCn: 'X509SanNameCn',
  x509SubjectCn: 'X509SubjectCn',
};

/** The identity claims present in a V2 `requestContext.identity`, under the AWS doc's names. */
export function identityClaims(raw: RawIdentity | null | undefined): CallerIdentity {
  const claims: CallerIdentity = {};
  if (!raw) return claims;
  for (const claim of IDENTITY_CLAIMS) {
    const fallback = FALLBACK_SPELLING[claim];
    const value = raw[claim] ?? (fallback === undefined ? undefined : raw[fallback]);
    if (typeof value === 'string') claims[claim] = value;
  }
  return claims;
}

/**
 * Lattice sets `type: "AWS_IAM"` (and the principal) only when the service has an auth policy AND the
 * caller's SigV4 authentication succeeded. Anything else is an anonymous caller.
 */
export function isAuthenticatedCaller(identity: CallerIdentity): boolean {
  return identity.type === 'AWS_IAM' && typeof identity.principal === 'string' && identity.principal.length > 0;
}

// ----------------------------------------------------------------------------------------------
// Normalised request
// ----------------------------------------------------------------------------------------------

export type LatticeEventVersion = 'V1' | 'V2';

export interface LatticeTarget {
  serviceNetworkArn?: string;
  serviceArn?: string;
  targetGroupArn?: string;
  region?: string;
}

export interface LatticeRequest {
  /** Named as the target group's `lambdaEventStructureVersion` (whose default is V1). */
  eventVersion: LatticeEventVersion;
  method: string;
  path: string;
  /** Lower-cased names. V2 keeps every value; V1 has one value, repeated headers already joined with ", ". */
  headers: Record<string, string[]>;
  /** V2 keeps every value; V1 has one value (Lattice keeps only the last repeated one). */
  query: Record<string, string[]>;
  /** Decoded bytes (base64 undone), or undefined when the event carries no body. */
  body: Buffer | undefined;
  /** From V2 `requestContext.timeEpoch` (microseconds, truncated to milliseconds); V1 carries no time. */
  requestTime: Date | undefined;
  /** Claims present in the event; always `{}` for V1 (see parseLatticeEvent). */
  identity: CallerIdentity;
  /** The Lattice resources that routed the request (V2 only). */
  target: LatticeTarget | undefined;
}

export interface EventIssue {
  path: string;
  message: string;
}

export type ParseLatticeEventResult = { ok: true; request: LatticeRequest } | { ok: false; issues: EventIssue[] };

const toArrays = (map: z.infer<typeof multiValueMap> | null | undefined, lowerCaseNames: boolean): Record<string, string[]> => {
  const out: Record<string, string[]> = {};
  for (const [rawName, value] of Object.entries(map ?? {})) {
    const name = lowerCaseNames ? rawName.toLowerCase() : rawName;
    const values = typeof value === 'string' ? [value] : value;
    // Two spellings of one header name (e.g. "Accept" and "accept") are one header.
    out[name] = [...(out[name] ?? []), ...values];
  }
  return out;
};

const decodeBody = (body: string | null | undefined, isBase64: boolean | null | undefined): Buffer | undefined => {
  if (body === null || body === undefined) return undefined;
  return Buffer.from(body, isBase64 === true ? 'base64' : 'utf8');
};

/** Microseconds (decimal string) to a Date with millisecond precision; undefined if out of Date's range. */
export function microsToDate(micros: string): Date | undefined {
  const date = new Date(Number(BigInt(micros) / 1000n));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const dropAbsent = (target: Record<string, string | null | undefined>): LatticeTarget => {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(target)) if (typeof value === 'string') out[key] = value;
  return out;
};

const toIssues = (error: z.ZodError): EventIssue[] =>
  error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Parse either event version into one request. Never throws: anything that is not a well-formed
 * Lattice event comes back as `{ ok: false, issues }`.
 *
 * A V2 event is recognised by its `version` field (it must then be "2.0"); any other object is read as V1.
 *
 * Decision (V1 identity): V1 has no requestContext, so it carries no identity claims, and V1 events get
 * `identity: {}`, i.e. an unauthenticated caller. Lattice does add `x-amzn-lattice-identity` headers to
 * requests for HTTP (instance/IP) targets and strips client-sent copies there, but the docs do not say
 * either holds for Lambda V1 events, so those headers could be client-forged and are NOT trusted.
 * Target groups for Trellis functions must therefore set `lambdaEventStructureVersion: V2` explicitly.
 */
export function parseLatticeEvent(event: unknown): ParseLatticeEventResult {
  if (!isRecord(event)) {
    return { ok: false, issues: [{ path: '', message: 'a Lattice event is a JSON object' }] };
  }
  if ('version' in event) {
    const parsed = latticeEventV2Schema.safeParse(event);
    if (!parsed.success) return { ok: false, issues: toIssues(parsed.error) };
    const e = parsed.data;
    const { identity, timeEpoch, ...target } = e.requestContext;
    const requestTime = microsToDate(timeEpoch);
    if (requestTime === undefined) {
      return { ok: false, issues: [{ path: 'requestContext.timeEpoch', message: 'timeEpoch is outside the range of a date' }] };
    }
    return {
      ok: true,
      request: {
        eventVersion: 'V2',
        method: e.method,
        path: e.path ?? '/',
        headers: toArrays(e.headers, true),
        query: toArrays(e.queryStringParameters, false),
        body: decodeBody(e.body, e.isBase64Encoded),
        requestTime,
        identity: identityClaims(identity),
        target: dropAbsent(target),
      },
    };
  }
  const parsed = latticeEventV1Schema.safeParse(event);
  if (!parsed.success) return { ok: false, issues: toIssues(parsed.error) };
  const e = parsed.data;
  return {
    ok: true,
    request: {
      eventVersion: 'V1',
      method: e.method,
      path: e.raw_path,
      headers: toArrays(e.headers, true),
      query: toArrays(e.query_string_parameters, false),
      body: decodeBody(e.body, e.is_base64_encoded),
      requestTime: undefined,
      identity: {},
      target: undefined,
    },
  };
}

// ----------------------------------------------------------------------------------------------
// Response
// ----------------------------------------------------------------------------------------------

/** The response object a Lambda target returns to Lattice (docs/aws-behaviour.md, "VPC Lattice data plane › Lambda response"). */
export interface LatticeResponse {
  isBase64Encoded: boolean;
  statusCode: number;
  statusDescription?: string;
  headers: Record<string, string>;
  body?: string;
}

/** `statusDescription` as in the official Java `VpcLatticeResponse`: "<code> <reason phrase>". */
export const statusDescription = (statusCode: number): string =>
  `${statusCode} ${STATUS_CODES[statusCode] ?? 'Unknown'}`;

/** A JSON response for Lattice. `body` is serialised with JSON.stringify. */
export function jsonResponse(statusCode: number, body: unknown): LatticeResponse {
  return {
    isBase64Encoded: false,
    statusCode,
    statusDescription: statusDescription(statusCode),
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  };
}
