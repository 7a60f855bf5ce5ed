import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePattern, EventPatternError, matchesPattern, validatePattern } from '../../local/eventbridge/pattern';

/** The sample event of the EventBridge user guide and aws/event-ruler's README. */
const ec2Event = {
  version: '0',
  id: 'ddddd4-aaaa-7777-4444-345dd43cc333',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '012345679012',
  time: '2017-10-02T16:24:49Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
  detail: {
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.33',
    'instance-id': 'i-000000aaaaaa00000',
    state: 'running',
  },
};

/** The event of the guide's "null values and empty strings" page. */
const nullsEvent = {
  'detail-type': 'EC2 Instance Launch Successful',
  source: 'aws.autoscaling',
  resources: [],
  detail: { eventVersion: '', responseElements: null },
};

type Row = [name: string, pattern: unknown, event: unknown, expected: boolean];

const d = (detail: Record<string, unknown>): { detail: Record<string, unknown> } => ({ detail });

const rows: Row[] = [
  // --- the guide's / event-ruler's own examples
  ['simple matching (README)', { 'detail-type': ['EC2 Instance State-change Notification'], resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'], detail: { state: ['initializing', 'running'] } }, ec2Event, true],
  ['time prefix 2017-10-02', { time: [{ prefix: '2017-10-02' }] }, ec2Event, true],
  ['source suffix ec2', { source: [{ suffix: 'ec2' }] }, ec2Event, true],
  ['source equals-ignore-case EC2', { source: [{ 'equals-ignore-case': 'AWS.EC2' }] }, ec2Event, true],
  ['numeric example', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }], 'd-count': [{ numeric: ['<', 10] }], 'x-limit': [{ numeric: ['=', 3.018e2] }] } }, ec2Event, true],
  ['cidr 10.0.0.0/24', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, ec2Event, true],
  ['exists true', { detail: { 'c-count': [{ exists: true }] } }, ec2Event, true],
  ['exists false on a present field', { detail: { 'c-count': [{ exists: false }] } }, ec2Event, false],
  ['complex example (guide)', { time: [{ prefix: '2017-10-02' }], detail: { state: [{ 'anything-but': 'initializing' }], 'c-count': [{ numeric: ['>', 0, '<=', 5] }], 'd-count': [{ numeric: ['<', 10] }], 'x-limit': [{ 'anything-but': [100, 200, 300] }], 'source-ip': [{ cidr: '10.0.0.0/8' }] } }, ec2Event, true],
  ['empty string matches ""', { detail: { eventVersion: [''] } }, nullsEvent, true],
  ['null matches null', { detail: { responseElements: [null] } }, nullsEvent, true],
  ['"" does not match null', { detail: { responseElements: [''] } }, nullsEvent, false],
  ['null does not match ""', { detail: { eventVersion: [null] } }, nullsEvent, false],
  ['arrays: pattern and event arrays intersect', { resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f', 'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f'] }, { resources: ['arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x', 'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] }, true],
  ['arrays: no intersection', { resources: ['a', 'b'] }, { resources: ['c', 'd'] }, false],
  ['exists:false matches a non-leaf (guide)', { detail: { 'c-count': [{ exists: false }] } }, d({ state: ['initializing', 'running'], 'c-count': { c1: 100 } }), true],
  ['exists:true does not match a non-leaf', { detail: { 'c-count': [{ exists: true }] } }, d({ 'c-count': { c1: 100 } }), false],

  // --- exact values and structure
  ['AND of fields (operators table)', { Location: ['New York'], Day: ['Monday'] }, { Location: 'New York', Day: 'Monday' }, true],
  ['AND fails when one field differs', { Location: ['New York'], Day: ['Monday'] }, { Location: 'New York', Day: 'Tuesday' }, false],
  ['values are OR', { state: ['stopped', 'running'] }, { state: 'running' }, true],
  ['exact match is case-sensitive', { Name: ['Alice'] }, { Name: 'alice' }, false],
  ['missing field does not match', { detail: { state: ['running'] } }, d({}), false],
  ['missing parent object does not match', { detail: { state: ['running'] } }, { source: 'x' }, false],
  ['string "5" does not match number 5', { n: ['5'] }, { n: 5 }, false],
  ['number 5 does not match string "5"', { n: [5] }, { n: '5' }, false],
  ['numbers compare numerically (300 = 3.0e2)', { n: [300] }, JSON.parse('{"n": 3.0e2}'), true],
  ['true matches true only', { b: [true] }, { b: 'true' }, false],
  ['boolean false', { b: [false] }, { b: false }, true],
  ['pattern object vs event leaf: nested field absent', { detail: { a: { b: ['x'] } } }, d({ a: 'x' }), false],
  ['pattern leaf vs event object: no leaf value', { detail: { a: ['x'] } }, d({ a: { b: 'x' } }), false],
  ['nested objects', { detail: { a: { b: { c: [1] } } } }, d({ a: { b: { c: 1, z: 2 } } }), true],
  ['event array of scalars: any element', { detail: { tags: ['blue'] } }, d({ tags: ['red', 'blue'] }), true],
  ['nested event arrays are flattened', { detail: { tags: ['blue'] } }, d({ tags: [['red'], ['blue']] }), true],
  ['IP string matches same address in another notation', { ip: ['::1'] }, { ip: '0:0:0:0:0:0:0:1' }, true],
  ['IP string does not match another address', { ip: ['10.0.0.1'] }, { ip: '10.0.0.2' }, false],

  // --- array consistency (README "JSON Array Matching")
  ['array of objects: fields from one element', { employees: { firstName: ['Anna'], lastName: ['Smith'] } }, { employees: [{ firstName: 'John', lastName: 'Doe' }, { firstName: 'Anna', lastName: 'Smith' }] }, true],
  ['array of objects: fields from different elements do not combine', { employees: { firstName: ['Anna'], lastName: ['Jones'] } }, { employees: [{ firstName: 'Anna', lastName: 'Smith' }, { firstName: 'Peter', lastName: 'Jones' }] }, false],
  ['multi-level arrays of objects', { employees: { firstName: ['Peter'] } }, { employees: [[{ firstName: 'John' }], [{ firstName: 'Peter' }]] }, true],

  // --- prefix / suffix
  ['prefix us- (operators table)', { Region: [{ prefix: 'us-' }] }, { Region: 'us-east-1' }, true],
  ['prefix does not match elsewhere', { Region: [{ prefix: 'us-' }] }, { Region: 'eu-us-1' }, false],
  ['prefix only matches strings', { n: [{ prefix: '1' }] }, { n: 123 }, false],
  ['prefix equals-ignore-case', { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } }, d({ service: 'eventbridge' }), true],
  ['prefix equals-ignore-case, other prefix', { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } }, d({ service: 'SNS' }), false],
  ['suffix .png', { FileName: [{ suffix: '.png' }] }, { FileName: 'image.png' }, true],
  ['suffix is case-sensitive', { FileName: [{ suffix: '.png' }] }, { FileName: 'image.PNG' }, false],
  ['suffix equals-ignore-case', { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, d({ FileName: 'IMAGE.PNG' }), true],
  ['suffix equals-ignore-case, other suffix', { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, d({ FileName: 'a.jpg' }), false],

  // --- equals-ignore-case
  ['equals-ignore-case alice', { Name: [{ 'equals-ignore-case': 'alice' }] }, { Name: 'ALICE' }, true],
  ['equals-ignore-case is still equality', { Name: [{ 'equals-ignore-case': 'alice' }] }, { Name: 'alicia' }, false],

  // --- anything-but
  ['anything-but string', { detail: { state: [{ 'anything-but': 'initializing' }] } }, d({ state: 'running' }), true],
  ['anything-but string, excluded', { detail: { state: [{ 'anything-but': 'initializing' }] } }, d({ state: 'initializing' }), false],
  ['anything-but number', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, d({ 'x-limit': 124 }), true],
  ['anything-but number, excluded', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, d({ 'x-limit': 123 }), false],
  ['anything-but string list', { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, d({ state: 'overloaded' }), false],
  ['anything-but number list', { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, d({ 'x-limit': 300 }), false],
  ['anything-but number list, other number', { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, d({ 'x-limit': 301.8 }), true],
  ['anything-but only excludes its own type', { n: [{ 'anything-but': 123 }] }, { n: '123' }, true],
  ['anything-but does not match a missing field', { state: [{ 'anything-but': 'initializing' }] }, {}, false],
  ['anything-but on an array: matches if any element is not excluded', { tags: [{ 'anything-but': 'a' }] }, { tags: ['a', 'b'] }, true],
  ['anything-but prefix', { Region: [{ 'anything-but': { prefix: 'us-' } }] }, { Region: 'eu-west-1' }, true],
  ['anything-but prefix, excluded', { Region: [{ 'anything-but': { prefix: 'us-' } }] }, { Region: 'us-east-1' }, false],
  ['anything-but prefix list', { Region: [{ 'anything-but': { prefix: ['us-', 'eu-'] } }] }, { Region: 'eu-west-1' }, false],
  ['anything-but suffix', { FileName: [{ 'anything-but': { suffix: '.png' } }] }, { FileName: 'a.jpg' }, true],
  ['anything-but suffix, excluded', { FileName: [{ 'anything-but': { suffix: '.png' } }] }, { FileName: 'a.png' }, false],
  ['anything-but equals-ignore-case', { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] }, { state: 'INITIALIZING' }, false],
  ['anything-but equals-ignore-case, other value', { state: [{ 'anything-but': { 'equals-ignore-case': ['initializing', 'stopped'] } }] }, { state: 'Running' }, true],
  ['anything-but wildcard', { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] }, { FilePath: '/usr/lib/x.so' }, false],
  ['anything-but wildcard, other path', { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] }, { FilePath: '/usr/bin/x' }, true],

  // --- numeric
  ['numeric > 0 <= 5 upper bound', { n: [{ numeric: ['>', 0, '<=', 5] }] }, { n: 5 }, true],
  ['numeric > 0 <= 5 lower bound excluded', { n: [{ numeric: ['>', 0, '<=', 5] }] }, { n: 0 }, false],
  ['numeric >= 0 < 5 lower bound', { n: [{ numeric: ['>=', 0, '<', 5] }] }, { n: 0 }, true],
  ['numeric >= 0 < 5 upper bound excluded', { n: [{ numeric: ['>=', 0, '<', 5] }] }, { n: 5 }, false],
  ['numeric < 10', { n: [{ numeric: ['<', 10] }] }, { n: -1e6 }, true],
  ['numeric >= 1e3', { n: [{ numeric: ['>=', 1e3] }] }, { n: 999.999 }, false],
  ['numeric = 301.8 with 3.018e2', { n: [{ numeric: ['=', 3.018e2] }] }, { n: 301.8 }, true],
  ['numeric does not match a numeric string', { n: [{ numeric: ['>', 0] }] }, { n: '5' }, false],
  ['numeric on array: any element in range', { n: [{ numeric: ['>', 10] }] }, { n: [1, 2, 30] }, true],

  // --- exists
  ['exists:false on a missing field', { detail: { 'c-count': [{ exists: false }] } }, d({ state: 'x' }), true],
  ['exists:false when the parent is missing', { detail: { 'c-count': [{ exists: false }] } }, {}, true],
  ['exists:true on null (null is a value)', { v: [{ exists: true }] }, { v: null }, true],
  ['exists:true on an empty array (no leaf)', { v: [{ exists: true }] }, { v: [] }, false],
  ['exists:false on an empty array', { v: [{ exists: false }] }, { v: [] }, true],
  ['exists:true on a missing field', { v: [{ exists: true }] }, {}, false],
  ['exists:false OR a value', { v: [{ exists: false }, 'x'] }, { v: 'x' }, true],

  // --- cidr
  ['cidr outside the block', { ip: [{ cidr: '10.0.0.0/24' }] }, { ip: '10.0.1.1' }, false],
  ['cidr on a non-IP string', { ip: [{ cidr: '10.0.0.0/24' }] }, { ip: 'ten' }, false],
  ['cidr IPv6', { ip: [{ cidr: '2001:db8::/32' }] }, { ip: '2001:db8:0:0:1::1' }, true],
  ['cidr IPv6 outside', { ip: [{ cidr: '2001:db8::/32' }] }, { ip: '2001:db9::1' }, false],

  // --- wildcard
  ['wildcard (operators table)', { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] }, { EventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/trellis-dev' }, true],
  ['wildcard other region', { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] }, { EventBusArn: 'arn:aws:events:eu-west-1:123456789012:event-bus/x' }, false],
  ['wildcard Simple*Service (README)', { source: [{ wildcard: 'Simple*Service' }] }, { source: 'SimpleQueueService' }, true],
  ['wildcard * matches empty', { source: [{ wildcard: 'Simple*Service' }] }, { source: 'SimpleService' }, true],
  ['wildcard is anchored', { source: [{ wildcard: 'Simple*Service' }] }, { source: 'SimpleQueueServices' }, false],
  ['wildcard escaped star is literal', { v: [{ wildcard: 'a\\*b' }] }, { v: 'a*b' }, true],
  ['wildcard escaped star is not a wildcard', { v: [{ wildcard: 'a\\*b' }] }, { v: 'axxb' }, false],
  ['wildcard escaped backslash', { v: [{ wildcard: 'a\\\\*' }] }, { v: 'a\\tail' }, true],
  ['wildcard regex characters are literal', { v: [{ wildcard: 'a.b(c)*' }] }, { v: 'aXb(c)' }, false],

  // --- $or
  ['$or (operators table)', { $or: [{ Location: ['New York'] }, { Day: ['Monday'] }] }, { Location: 'Boston', Day: 'Monday' }, true],
  ['$or, no branch matches', { $or: [{ Location: ['New York'] }, { Day: ['Monday'] }] }, { Location: 'Boston', Day: 'Friday' }, false],
  ['$or with AND (README)', { source: ['aws.cloudwatch'], $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }] }, { source: 'aws.cloudwatch', namespace: 'AWS/ES' }, true],
  ['$or with AND, AND part fails', { source: ['aws.cloudwatch'], $or: [{ metricName: ['CPUUtilization'] }, { namespace: ['AWS/EC2'] }] }, { source: 'aws.ec2', namespace: 'AWS/EC2' }, false],
  ['$or nested in a field', { detail: { $or: [{ a: [1] }, { b: { c: [2] } }] } }, d({ b: { c: 2 } }), true],
  ['$or branch with several fields needs all of them', { $or: [{ a: [1], b: [2] }, { c: [3] }] }, { a: 1, b: 3 }, false],
  ['nested $or inside $or (README)', { source: ['aws.cloudwatch'], $or: [{ metricName: ['CPUUtilization'] }, { metricType: ['MetricType'], $or: [{ metricId: [1234] }, { spaceId: [1000] }] }] }, { source: 'aws.cloudwatch', metricType: 'MetricType', spaceId: 1000 }, true],
];

describe('matchesPattern', () => {
  it.each(rows)('%s', (_name, pattern, event, expected) => {
    expect(matchesPattern(pattern, event)).toBe(expected);
  });

  it('accepts the pattern as JSON text, as PutRule takes it', () => {
    expect(matchesPattern('{"source":["aws.ec2"],"detail":{"c-count":[{"numeric":[">",4]}]}}', ec2Event)).toBe(true);
    expect(matchesPattern('{"source":["aws.s3"]}', ec2Event)).toBe(false);
  });

  it('never matches a non-object event except through exists:false', () => {
    expect(matchesPattern({ a: ['x'] }, 'x')).toBe(false);
    expect(matchesPattern({ a: [{ exists: false }] }, null)).toBe(true);
  });
});

describe('validatePattern', () => {
  const invalid: [name: string, pattern: unknown, reason: string][] = [
    ['not an object', ['source'], 'Filter is not an object'],
    ['not JSON text', '{source:', 'not valid JSON'],
    ['empty pattern', {}, 'Empty objects are not allowed'],
    ['empty nested object', { detail: {} }, 'Empty objects are not allowed'],
    ['scalar field value', { source: 'aws.ec2' }, '"source" must be an object or an array'],
    ['empty value list', { source: [] }, 'Empty arrays are not allowed'],
    ['nested array as a value', { source: [['a']] }, 'Match value must be String, number, true, false, or null'],
    ['unknown operator', { source: [{ contains: 'a' }] }, 'Unrecognized match type contains'],
    ['two keys in one match expression', { source: [{ prefix: 'a', suffix: 'b' }] }, 'Only one key allowed'],
    ['prefix not a string', { source: [{ prefix: 1 }] }, 'prefix match pattern must be a string'],
    ['prefix with an unknown modifier', { source: [{ prefix: { wildcard: 'a' } }] }, 'Unsupported prefix pattern'],
    ['suffix ignore-case not a string', { source: [{ suffix: { 'equals-ignore-case': 1 } }] }, 'equals-ignore-case match pattern must be a string'],
    ['equals-ignore-case not a string', { source: [{ 'equals-ignore-case': null }] }, 'equals-ignore-case match pattern must be a string'],
    ['anything-but mixed list', { n: [{ 'anything-but': ['a', 1] }] }, 'mixed type is not supported'],
    ['anything-but empty list', { n: [{ 'anything-but': [] }] }, 'must not be empty'],
    ['anything-but boolean', { n: [{ 'anything-but': true }] }, 'must be an array or single string/number value'],
    ['anything-but unknown modifier', { n: [{ 'anything-but': { numeric: ['>', 1] } }] }, 'Unsupported anything-but pattern: numeric'],
    ['anything-but empty prefix', { n: [{ 'anything-but': { prefix: '' } }] }, 'Null prefix/suffix not allowed'],
    ['anything-but ignore-case number', { n: [{ 'anything-but': { 'equals-ignore-case': 1 } }] }, 'must be a string or a non-empty list of strings'],
    ['anything-but invalid wildcard', { n: [{ 'anything-but': { wildcard: 'a**' } }] }, 'Consecutive wildcard characters'],
    ['numeric not an array', { n: [{ numeric: '>' }] }, 'Value of numeric must be an array'],
    ['numeric unknown operator', { n: [{ numeric: ['!=', 1] }] }, 'Unrecognized numeric range operator'],
    ['numeric non-number bound', { n: [{ numeric: ['>', '1'] }] }, 'Value of > must be numeric'],
    ['numeric upper bound first', { n: [{ numeric: ['<', 5, '>', 1] }] }, 'Too many elements'],
    ['numeric range reversed', { n: [{ numeric: ['>', 5, '<', 1] }] }, 'Bottom must be less than top'],
    ['numeric bad second operator', { n: [{ numeric: ['>', 1, '>', 5] }] }, 'Bad numeric range operator'],
    ['numeric too many terms', { n: [{ numeric: ['>', 1, '<', 5, '<', 6] }] }, 'Too many terms'],
    ['exists not boolean', { n: [{ exists: 'true' }] }, 'exists match pattern must be either true or false'],
    ['cidr without prefix length', { ip: [{ cidr: '10.0.0.1' }] }, 'Nonstandard IP address or CIDR block'],
    ['cidr prefix length too long', { ip: [{ cidr: '10.0.0.0/33' }] }, 'Nonstandard IP address or CIDR block'],
    ['cidr not an address', { ip: [{ cidr: 'ten/8' }] }, 'Nonstandard IP address or CIDR block'],
    ['wildcard consecutive stars', { v: [{ wildcard: 'a**b' }] }, 'Consecutive wildcard characters'],
    ['wildcard bad escape', { v: [{ wildcard: 'a\\b' }] }, 'a backslash may only escape'],
    ['wildcard trailing backslash', { v: [{ wildcard: 'a\\' }] }, 'a backslash may only escape'],
    ['$or not an array', { $or: { a: ['x'] } }, '$or must be followed by an array'],
    ['$or with one branch', { $or: [{ a: ['x'] }] }, '$or needs at least 2 objects'],
    ['$or with a non-object', { $or: [{ a: ['x'] }, ['b']] }, 'only objects are allowed'],
    ['operator name as a field inside $or', { $or: [{ numeric: [1] }, { prefix: ['a'] }] }, 'reserved keyword'],
  ];

  it.each(invalid)('rejects %s', (_name, pattern, reason) => {
    expect(() => validatePattern(pattern)).toThrow(EventPatternError);
    expect(() => validatePattern(pattern)).toThrow(reason);
  });

  it('names the path of the problem and the PutRule exception name', () => {
    let caught: unknown;
    try {
      validatePattern({ detail: { state: [{ prefix: 'a' }, { numeric: ['>', 'x'] }] } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(EventPatternError);
    const error = caught as EventPatternError;
    expect(error.name).toBe('InvalidEventPatternException');
    expect(error.path).toBe('detail.state[1].numeric');
    expect(error.message).toBe('Event pattern is not valid. Reason: Value of > must be numeric (at detail.state[1].numeric)');
  });

  it('accepts every operator in one valid pattern', () => {
    expect(() =>
      validatePattern({
        a: ['x', 1, true, null, { prefix: 'p' }, { prefix: { 'equals-ignore-case': 'p' } }, { suffix: 's' }],
        b: [{ suffix: { 'equals-ignore-case': 's' } }, { 'equals-ignore-case': 'e' }, { wildcard: 'w*\\*\\\\' }],
        c: [{ 'anything-but': 'x' }, { 'anything-but': [1, 2] }, { 'anything-but': { prefix: 'p' } }, { 'anything-but': { suffix: ['s'] } }],
        d: [{ 'anything-but': { 'equals-ignore-case': 'x' } }, { 'anything-but': { wildcard: ['*/lib/*'] } }],
        e: [{ numeric: ['=', 1] }, { numeric: ['>=', 0, '<', 1] }, { numeric: ['<=', 9] }, { exists: true }, { cidr: '::/0' }],
        $or: [{ f: ['1'] }, { g: { h: ['2'] } }],
      }),
    ).not.toThrow();
  });
});

describe('compilePattern', () => {
  it('compiles once and matches many events', () => {
    const compiled = compilePattern({ source: ['trellis'], 'detail-type': ['GrantChanged'] });
    expect(compiled.matches({ source: 'trellis', 'detail-type': 'GrantChanged' })).toBe(true);
    expect(compiled.matches({ source: 'trellis', 'detail-type': 'SvidIssued' })).toBe(false);
  });

  const escapeWildcard = (text: string): string => text.replace(/[\\*]/g, '\\$&');

  it('property: an exact value, its prefix, suffix and escaped wildcard match the string; anything-but does not', () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(), (text, cut) => {
        const at = text.length === 0 ? 0 : cut % (text.length + 1);
        const event = { detail: { v: text } };
        expect(matchesPattern({ detail: { v: [text] } }, event)).toBe(true);
        expect(matchesPattern({ detail: { v: [{ prefix: text.slice(0, at) }] } }, event)).toBe(true);
        expect(matchesPattern({ detail: { v: [{ suffix: text.slice(at) }] } }, event)).toBe(true);
        expect(matchesPattern({ detail: { v: [{ wildcard: escapeWildcard(text) }] } }, event)).toBe(true);
        expect(matchesPattern({ detail: { v: [{ 'anything-but': text }] } }, event)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('property: numeric ranges agree with plain comparisons', () => {
    const num = fc.double({ min: -1e9, max: 1e9, noNaN: true });
    fc.assert(
      fc.property(num, num, num, (a, b, x) => {
        fc.pre(a < b);
        const event = { n: x };
        expect(matchesPattern({ n: [{ numeric: ['>', a, '<=', b] }] }, event)).toBe(x > a && x <= b);
        expect(matchesPattern({ n: [{ numeric: ['>=', a, '<', b] }] }, event)).toBe(x >= a && x < b);
        expect(matchesPattern({ n: [{ 'anything-but': [a, b] }] }, event)).toBe(x !== a && x !== b);
      }),
      { numRuns: 200 },
    );
  });
});
