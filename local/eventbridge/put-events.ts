/**
 * PutEvents as EventBridge validates it: request-level checks (ValidationException / SerializationException,
 * which fail the whole call) and entry-level checks (an entry error, counted in FailedEntryCount), and the event
 * envelope EventBridge builds from an accepted entry. Pure functions; the HTTP server is in bus.ts.
 *
 * Wire facts (API reference PutEvents / PutEventsRequestEntry / PutEventsResultEntry, user guide
 * "Calculating PutEvents event entry size"): 1–10 entries; total entry size under 256 KB, where Time counts
 * 14 bytes and Source, DetailType, Detail and each Resources item count their UTF-8 bytes; entry error codes
 * include InvalidArgument and MalformedDetail. The error messages below are UNCONFIRMED in wording (AWS does not
 * document them); the codes are the documented ones.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The event a rule target receives (the envelope EventBridge puts around an entry). */
export interface EventBridgeEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  /** ISO 8601 to the second, as EventBridge writes it: 2015-11-11T21:31:47Z */
  time: string;
  region: string;
  resources: string[];
  detail: { [key: string]: JsonValue };
}

export interface PutEventsRequestEntry {
  Time?: number | string;
  Source?: string;
  Resources?: string[];
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  TraceHeader?: string;
}

export type PutEventsResultEntry = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

/** An error that fails the whole call, encoded as awsJson1_1 (`__type`, `x-amzn-ErrorType`). */
export class AwsJsonError extends Error {
  readonly type: string;
  readonly status: number;

  constructor(type: string, message: string, status = 400) {
    super(message);
    this.name = type;
    this.type = type;
    this.status = status;
  }
}

export const MAX_ENTRIES = 10;
/** 256 KB: the limit on the summed entry sizes of one PutEvents call. */
export const MAX_REQUEST_ENTRY_BYTES = 256 * 1024;
export const DEFAULT_BUS = 'default';

const STRING_FIELDS = ['Source', 'DetailType', 'Detail', 'EventBusName', 'TraceHeader'] as const;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const serialization = (message: string): AwsJsonError => new AwsJsonError('SerializationException', message);

/**
 * Checks the request body's shape and the request-level limits; returns the entries.
 * Throws AwsJsonError (ValidationException or SerializationException) as EventBridge answers them.
 */
export function parsePutEventsRequest(body: unknown): PutEventsRequestEntry[] {
  if (!isPlainObject(body)) throw serialization('Start of structure or map found where not expected.');
  const entries = body.Entries;
  if (entries === undefined || entries === null) {
    throw new AwsJsonError('ValidationException', "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null");
  }
  if (!Array.isArray(entries)) throw serialization('Expected a list for Entries.');
  if (entries.length < 1 || entries.length > MAX_ENTRIES) {
    const constraint = entries.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_ENTRIES}`;
    throw new AwsJsonError(
      'ValidationException',
      `1 validation error detected: Value '[${entries.length} entries]' at 'entries' failed to satisfy constraint: Member must have length ${constraint}`,
    );
  }
  const parsed = entries.map((entry, i) => parseEntry(entry, i));
  const total = parsed.reduce((sum, entry) => sum + entrySize(entry), 0);
  if (total > MAX_REQUEST_ENTRY_BYTES) {
    throw new AwsJsonError('ValidationException', 'Total size of the entries in the request is over the limit.');
  }
  return parsed;
}

function parseEntry(raw: unknown, index: number): PutEventsRequestEntry {
  if (!isPlainObject(raw)) throw serialization(`Entries[${index}]: start of structure or map expected.`);
  for (const field of STRING_FIELDS) {
    const value = raw[field];
    if (value !== undefined && value !== null && typeof value !== 'string') {
      throw serialization(`Entries[${index}].${field}: expected a string.`);
    }
  }
  const resources = raw.Resources;
  if (resources !== undefined && resources !== null) {
    if (!Array.isArray(resources) || !resources.every((r) => typeof r === 'string')) {
      throw serialization(`Entries[${index}].Resources: expected a list of strings.`);
    }
  }
  const time = raw.Time;
  if (time !== undefined && time !== null && typeof time !== 'number' && typeof time !== 'string') {
    throw serialization(`Entries[${index}].Time: expected a timestamp.`);
  }
  const entry: PutEventsRequestEntry = {};
  if (typeof time === 'number' || typeof time === 'string') entry.Time = time;
  if (Array.isArray(resources)) entry.Resources = resources as string[];
  for (const field of STRING_FIELDS) {
    const value = raw[field];
    if (typeof value === 'string') entry[field] = value;
  }
  return entry;
}

const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Entry size as the user guide defines it for the 256 KB limit. */
export function entrySize(entry: PutEventsRequestEntry): number {
  let size = entry.Time === undefined ? 0 : 14;
  size += utf8Bytes(entry.Source ?? '') + utf8Bytes(entry.DetailType ?? '') + utf8Bytes(entry.Detail ?? '');
  for (const resource of entry.Resources ?? []) size += utf8Bytes(resource);
  return size;
}

/** The bus an entry names: a name, an event-bus ARN, or nothing (the default bus). */
export function busNameOf(entry: PutEventsRequestEntry): string {
  const name = entry.EventBusName ?? '';
  if (name === '') return DEFAULT_BUS;
  const arn = /^arn:[^:]+:events:[^:]*:[^:]*:event-bus\/(.+)$/.exec(name);
  return arn ? (arn[1] as string) : name;
}

/** ISO 8601 without milliseconds, as EventBridge writes `time`. */
export const eventTime = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Time as the SDK sends it (epoch seconds) or as a person types it (ISO 8601); undefined when invalid. */
function parseTime(time: number | string): Date | undefined {
  const date = typeof time === 'number' ? new Date(time * 1000) : new Date(time);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export interface EnvelopeContext {
  id: string;
  now: Date;
  region: string;
  accountId: string;
  /** Buses that exist (the default bus always does). */
  buses: ReadonlySet<string>;
}

export type EntryOutcome =
  | { ok: true; busName: string; event: EventBridgeEvent }
  | { ok: false; errorCode: string; errorMessage: string };

const invalid = (parameter: string, reason: string): EntryOutcome => ({
  ok: false,
  errorCode: 'InvalidArgument',
  errorMessage: `Parameter ${parameter} is not valid. Reason: ${reason}`,
});

/**
 * Accepts one entry (returns the event to route) or explains why it failed.
 *
 * DECISION: an entry for a bus that does not exist fails with ErrorCode ResourceNotFoundException.
 * AWS has been seen to accept such events and drop them silently (aws/aws-cli#9186, aws/aws-sdk#186); the local
 * bus is stricter on purpose, so a misspelt bus name shows up in FailedEntryCount instead of as a missing event.
 */
export function acceptEntry(entry: PutEventsRequestEntry, context: EnvelopeContext): EntryOutcome {
  if (!entry.Source) return invalid('Source', 'Source is a required argument.');
  if (!entry.DetailType) return invalid('DetailType', 'DetailType is a required argument.');
  if (entry.Detail === undefined || entry.Detail === '') return invalid('Detail', 'Detail is a required argument.');
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail) as unknown;
  } catch {
    detail = undefined;
  }
  if (!isPlainObject(detail)) return { ok: false, errorCode: 'MalformedDetail', errorMessage: 'Detail is malformed.' };
  let time = context.now;
  if (entry.Time !== undefined) {
    const parsed = parseTime(entry.Time);
    if (parsed === undefined) return invalid('Time', 'Time is not a valid timestamp.');
    time = parsed;
  }
  const busName = busNameOf(entry);
  if (busName !== DEFAULT_BUS && !context.buses.has(busName)) {
    return { ok: false, errorCode: 'ResourceNotFoundException', errorMessage: `Event bus ${busName} does not exist.` };
  }
  return {
    ok: true,
    busName,
    event: {
      version: '0',
      id: context.id,
      'detail-type': entry.DetailType,
      source: entry.Source,
      account: context.accountId,
      time: eventTime(time),
      region: context.region,
      resources: [...(entry.Resources ?? [])],
      detail: detail as { [key: string]: JsonValue },
    },
  };
}
