import { describe, expect, it } from 'vitest';
import {
  ANONYMOUS_PRINCIPAL,
  evaluatePolicy,
  PolicyDocumentError,
  preparePolicy,
  type ContextValue,
  type Decision,
  type EvaluationRequest,
} from '../../shared/policy/evaluator';
import { iamSimulateDecision as simulate } from '../support/iam-simulate';

const ACCOUNT = '111122223333';
const SVC = `arn:aws:vpc-lattice:us-east-1:${ACCOUNT}:service/svc-0123456789abcdef0`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/trellis-dev-workload`;
const OTHER_ROLE = `arn:aws:iam::${ACCOUNT}:role/other`;
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/trellis-dev-workload/0a1b2c`;
const INVOKE = 'vpc-lattice-svcs:Invoke';
const QS = 'vpc-lattice-svcs:RequestQueryString/x';
const ORDERS = 'spiffe://example.org/service/orders';

type Statement = Record<string, unknown>;

interface Case {
  name: string;
  statements: Statement[];
  version?: string;
  principal?: string;
  action?: string;
  resource?: string;
  context?: Record<string, ContextValue>;
  expected: Decision;
  /**
   * Only for a case @cloud-copilot/iam-simulate decides differently: why, and what it says
   * (asserted, so a stale reason cannot hide).
   */
  notCrossChecked?: { reason: string; iamSimulateSays: Decision };
}

const allow = (extra: Statement = {}): Statement => ({ Effect: 'Allow', Principal: '*', Action: INVOKE, Resource: `${SVC}/*`, ...extra });
const deny = (extra: Statement = {}): Statement => ({ Effect: 'Deny', Principal: '*', Action: INVOKE, Resource: `${SVC}/*`, ...extra });
const when = (condition: Record<string, Record<string, unknown>>): Statement[] => [allow({ Condition: condition })];

/** One operator, one key: the request either has `present` for the key or lacks it. */
function operatorCases(
  operator: string,
  key: string,
  policyValue: unknown,
  rows: { name: string; value?: ContextValue; expected: Decision; notCrossChecked?: Case['notCrossChecked'] }[],
): Case[] {
  return rows.map((row) => ({
    name: `${operator} ${JSON.stringify(policyValue)} — ${row.name}`,
    statements: when({ [operator]: { [key]: policyValue } }),
    context: row.value === undefined ? {} : { [key]: row.value },
    expected: row.expected,
    ...(row.notCrossChecked ? { notCrossChecked: row.notCrossChecked } : {}),
  }));
}

const A = 'Allow' as const;
const I = 'ImplicitDeny' as const;
const E = 'ExplicitDeny' as const;
const TEAM = 'aws:PrincipalTag/team';
const PORT = 'vpc-lattice-svcs:Port';

const cases: Case[] = [
  // ---- String operators
  ...operatorCases('StringEquals', TEAM, 'blue', [
    { name: 'equal', value: 'blue', expected: A },
    { name: 'different', value: 'red', expected: I },
    { name: 'case differs', value: 'Blue', expected: I },
    { name: 'missing key', expected: I },
  ]),
  ...operatorCases('StringEquals', TEAM, ['red', 'blue'], [
    { name: 'values are ORed', value: 'blue', expected: A },
    { name: 'none equal', value: 'green', expected: I },
  ]),
  ...operatorCases('StringEquals', TEAM, 'bl*', [
    { name: '* is literal', value: 'blue', expected: I },
    { name: 'literal * equal', value: 'bl*', expected: A },
  ]),
  ...operatorCases('StringNotEquals', TEAM, 'blue', [
    { name: 'different', value: 'red', expected: A },
    { name: 'equal', value: 'blue', expected: I },
    { name: 'missing key is true', expected: A },
  ]),
  ...operatorCases('StringNotEquals', TEAM, ['red', 'blue'], [
    { name: 'negated values are ANDed (one equal)', value: 'blue', expected: I },
    { name: 'negated values are ANDed (none equal)', value: 'green', expected: A },
  ]),
  ...operatorCases('StringEqualsIgnoreCase', TEAM, 'BLUE', [
    { name: 'case differs', value: 'blue', expected: A },
    { name: 'different', value: 'red', expected: I },
    { name: 'missing key', expected: I },
  ]),
  ...operatorCases('StringNotEqualsIgnoreCase', TEAM, 'BLUE', [
    { name: 'case differs only', value: 'blue', expected: I },
    { name: 'different', value: 'red', expected: A },
    { name: 'missing key is true', expected: A },
  ]),
  ...operatorCases('StringLike', 'aws:PrincipalTag/x509SAN/URI', 'spiffe://example.org/service/*', [
    { name: '* spans path segments', value: 'spiffe://example.org/service/orders/v2', expected: A },
    { name: 'outside the prefix', value: 'spiffe://example.org/team/orders', expected: I },
    { name: 'missing key', expected: I },
  ]),
  ...operatorCases('StringLike', 'vpc-lattice-svcs:RequestPath', '/rates/t?day', [
    { name: '? is one character', value: '/rates/today', expected: A },
    { name: '? is not zero characters', value: '/rates/tday', expected: I },
    { name: '? is not two characters', value: '/rates/tooday', expected: I },
  ]),
  ...operatorCases('StringNotLike', 'aws:PrincipalTag/x509SAN/URI', 'spiffe://example.org/service/*', [
    { name: 'matches the pattern', value: ORDERS, expected: I },
    { name: 'does not match', value: 'spiffe://example.org/team/x', expected: A },
    { name: 'missing key is true', expected: A },
  ]),

  // ---- ARN operators
  ...operatorCases('ArnEquals', 'aws:PrincipalArn', ROLE, [
    { name: 'equal', value: ROLE, expected: A },
    { name: 'another role', value: OTHER_ROLE, expected: I },
    { name: 'not an ARN', value: 'trellis-dev-workload', expected: I },
    { name: 'missing key', expected: I },
  ]),
  ...operatorCases('ArnEquals', 'aws:PrincipalArn', `arn:aws:iam::${ACCOUNT}:role/trellis-*`, [
    { name: 'ArnEquals takes wildcards too', value: ROLE, expected: A },
    { name: 'wildcard mismatch', value: OTHER_ROLE, expected: I },
  ]),
  ...operatorCases('ArnLike', 'aws:PrincipalArn', 'arn:aws:iam::*:role/trellis-dev-workload', [
    { name: '* in the account component', value: ROLE, expected: A },
    { name: 'other account', value: 'arn:aws:iam::444455556666:role/trellis-dev-workload', expected: A },
    { name: 'other role', value: OTHER_ROLE, expected: I },
  ]),
  ...operatorCases('ArnLike', 'aws:PrincipalArn', 'arn:aws:iam:*:role/trellis-dev-workload', [
    { name: 'a pattern with five components is not an ARN', value: ROLE, expected: I },
  ]),
  ...operatorCases('ArnLike', 'vpc-lattice-svcs:ServiceArn', `arn:aws:vpc-lattice:us-east-1:${ACCOUNT}:service/svc-????????????????0`, [
    { name: '? per character in the resource component', value: SVC, expected: A },
    { name: 'one character short', value: `arn:aws:vpc-lattice:us-east-1:${ACCOUNT}:service/svc-123456789abcdef0`, expected: I },
  ]),
  ...operatorCases('ArnLike', 'vpc-lattice-svcs:ServiceArn', 'arn:aws:vpc-lattice:*:*:*', [
    { name: '* in the resource spans "/"', value: SVC, expected: A },
    { name: 'another service', value: 'arn:aws:s3:::bucket/key', expected: I },
  ]),
  ...operatorCases('ArnNotEquals', 'aws:PrincipalArn', ROLE, [
    { name: 'another role', value: OTHER_ROLE, expected: A },
    { name: 'equal', value: ROLE, expected: I },
    { name: 'missing key is true', expected: A },
  ]),
  ...operatorCases('ArnNotLike', 'aws:PrincipalArn', `arn:aws:iam::${ACCOUNT}:role/trellis-*`, [
    { name: 'matches the pattern', value: ROLE, expected: I },
    { name: 'does not match', value: OTHER_ROLE, expected: A },
    { name: 'missing key is true', expected: A },
  ]),

  // ---- Bool, Null, Numeric
  ...operatorCases('Bool', 'aws:SecureTransport', 'true', [
    { name: 'boolean true', value: true, expected: A },
    { name: 'string "TRUE"', value: 'TRUE', expected: A },
    { name: 'false', value: false, expected: I },
    { name: 'not a boolean', value: 'yes', expected: I },
    { name: 'missing key', expected: I },
  ]),
  ...operatorCases('Bool', 'aws:SecureTransport', false, [{ name: 'JSON boolean policy value', value: 'false', expected: A }]),
  ...operatorCases('Null', TEAM, 'true', [
    { name: 'missing key', expected: A },
    { name: 'present key', value: 'blue', expected: I },
  ]),
  ...operatorCases('Null', TEAM, 'false', [
    { name: 'present key', value: 'blue', expected: A },
    { name: 'missing key', expected: I },
  ]),
  ...operatorCases('Null', QS, 'true', [
    {
      name: 'empty multi-valued key counts as missing',
      value: [],
      expected: A,
      notCrossChecked: { reason: 'iam-simulate treats [] as a present key; we treat an empty set as missing (IAM: a "null dataset")', iamSimulateSays: I },
    },
  ]),
  ...operatorCases('NumericEquals', PORT, '443', [
    { name: 'equal (number)', value: 443, expected: A },
    { name: 'equal (string)', value: '443', expected: A },
    { name: 'different', value: 80, expected: I },
    { name: 'not a number', value: 'https', expected: I },
    { name: 'missing key', expected: I },
  ]),
  ...operatorCases('NumericNotEquals', PORT, ['80', '8080'], [
    { name: 'none equal', value: 443, expected: A },
    { name: 'one equal', value: 8080, expected: I },
    { name: 'missing key is true', expected: A },
  ]),
  ...operatorCases('NumericLessThan', PORT, '1024', [
    { name: 'less', value: 443, expected: A },
    { name: 'equal is not less', value: 1024, expected: I },
    { name: 'greater', value: 8080, expected: I },
    { name: 'missing key', expected: I },
  ]),
  ...operatorCases('NumericLessThan', PORT, '443.5', [{ name: 'decimal policy value', value: '443', expected: A }]),
  ...operatorCases('NumericLessThanEquals', PORT, '443', [
    { name: 'equal', value: 443, expected: A },
    { name: 'greater', value: 444, expected: I },
  ]),
  ...operatorCases('NumericGreaterThan', PORT, '1024', [
    { name: 'greater', value: 8080, expected: A },
    { name: 'equal is not greater', value: 1024, expected: I },
  ]),
  ...operatorCases('NumericGreaterThanEquals', PORT, '1024', [
    { name: 'equal', value: 1024, expected: A },
    { name: 'less', value: 443, expected: I },
  ]),

  // ---- IfExists
  ...operatorCases('StringEqualsIfExists', TEAM, 'blue', [
    { name: 'missing key is true', expected: A },
    { name: 'present and equal', value: 'blue', expected: A },
    { name: 'present and different', value: 'red', expected: I },
  ]),
  ...operatorCases('StringNotEqualsIfExists', TEAM, 'blue', [
    { name: 'missing key', expected: A },
    { name: 'present and equal', value: 'blue', expected: I },
  ]),
  ...operatorCases('StringLikeIfExists', TEAM, 'bl*', [
    { name: 'missing key', expected: A },
    { name: 'present, no match', value: 'red', expected: I },
  ]),
  ...operatorCases('ArnLikeIfExists', 'aws:PrincipalArn', `arn:aws:iam::${ACCOUNT}:role/trellis-*`, [
    { name: 'missing key', expected: A },
    { name: 'present, no match', value: OTHER_ROLE, expected: I },
  ]),
  ...operatorCases('NumericLessThanIfExists', PORT, '1024', [
    { name: 'missing key', expected: A },
    { name: 'present, not less', value: 8080, expected: I },
  ]),
  ...operatorCases('BoolIfExists', 'aws:SecureTransport', 'true', [
    { name: 'missing key', expected: A },
    { name: 'present false', value: false, expected: I },
  ]),

  // ---- Set operators on a multi-valued key
  ...operatorCases('ForAnyValue:StringEquals', QS, 'a', [
    { name: 'one of the values matches', value: ['a', 'b'], expected: A },
    { name: 'none matches', value: ['c', 'd'], expected: I },
    { name: 'missing key is false', expected: I },
    { name: 'empty set is false', value: [], expected: I },
    { name: 'single-valued request value', value: 'a', expected: A },
  ]),
  ...operatorCases('ForAllValues:StringEquals', QS, ['a', 'b'], [
    { name: 'every value matches', value: ['a', 'b'], expected: A },
    { name: 'one value outside', value: ['a', 'c'], expected: I },
    { name: 'missing key is true', expected: A },
    { name: 'empty set is true', value: [], expected: A },
  ]),
  ...operatorCases('ForAllValues:StringLike', QS, 'a*', [
    { name: 'every value matches the pattern', value: ['ab', 'ac'], expected: A },
    { name: 'one does not', value: ['ab', 'ba'], expected: I },
  ]),
  ...operatorCases('ForAnyValue:StringNotEquals', QS, 'a', [
    { name: 'some value differs', value: ['a', 'b'], expected: A },
    { name: 'every value equal', value: ['a'], expected: I },
  ]),
  ...operatorCases('ForAllValues:StringNotEquals', QS, 'a', [
    { name: 'no value equal', value: ['b', 'c'], expected: A },
    { name: 'one value equal', value: ['a', 'b'], expected: I },
  ]),
  ...operatorCases('ForAnyValue:StringEqualsIfExists', QS, 'a', [{ name: 'IfExists does not rescue a missing key', expected: I }]),
  ...operatorCases('ForAllValues:StringEquals', 'vpc-lattice-svcs:RequestMethod', ['GET', 'HEAD'], [
    { name: 'single-valued key in the set', value: 'GET', expected: A },
  ]),
  ...operatorCases('StringEquals', QS, 'a', [{ name: 'plain operator on a multi-valued key is false', value: ['a'], expected: I }]),
  ...operatorCases('StringNotEquals', QS, 'a', [{ name: 'negated plain operator on a multi-valued key is false', value: ['b'], expected: I }]),
  ...operatorCases('StringEqualsIfExists', QS, 'a', [{ name: 'IfExists on a present multi-valued key is false', value: ['a'], expected: I }]),

  // ---- Several keys / operators
  {
    name: 'keys within an operator are ANDed (both hold)',
    statements: when({ StringEquals: { [TEAM]: 'blue', 'aws:PrincipalTag/x509SAN/URI': ORDERS } }),
    context: { [TEAM]: 'blue', 'aws:PrincipalTag/x509SAN/URI': ORDERS },
    expected: A,
  },
  {
    name: 'keys within an operator are ANDed (one fails)',
    statements: when({ StringEquals: { [TEAM]: 'blue', 'aws:PrincipalTag/x509SAN/URI': ORDERS } }),
    context: { [TEAM]: 'blue', 'aws:PrincipalTag/x509SAN/URI': 'spiffe://example.org/service/reviews' },
    expected: I,
  },
  {
    name: 'operators are ANDed',
    statements: when({ StringEquals: { [TEAM]: 'blue' }, NumericLessThan: { [PORT]: '1024' } }),
    context: { [TEAM]: 'blue', [PORT]: 8080 },
    expected: I,
  },
  {
    name: 'condition key names match case-insensitively',
    statements: when({ StringEquals: { 'AWS:principaltag/TEAM': 'blue' } }),
    context: { [TEAM]: 'blue' },
    expected: A,
  },

  // ---- Action
  { name: 'Action service wildcard', statements: [allow({ Action: 'vpc-lattice-svcs:*' })], expected: A },
  { name: 'Action matches case-insensitively', statements: [allow({ Action: 'VPC-LATTICE-SVCS:invoke' })], expected: A },
  { name: 'Action ? wildcard', statements: [allow({ Action: 'vpc-lattice-svcs:Inv?ke' })], expected: A },
  { name: 'Action *', statements: [allow({ Action: '*' })], expected: A },
  { name: 'Action other action', statements: [allow({ Action: 'vpc-lattice-svcs:Connect' })], expected: I },
  { name: 'Action list', statements: [allow({ Action: ['vpc-lattice-svcs:Connect', INVOKE] })], expected: A },
  { name: 'NotAction excludes others', statements: [allow({ Action: undefined, NotAction: 'vpc-lattice-svcs:Connect' })], expected: A },
  { name: 'NotAction excludes this', statements: [allow({ Action: undefined, NotAction: 'vpc-lattice-svcs:In*' })], expected: I },

  // ---- Resource
  { name: 'Resource service/*', statements: [allow()], expected: A },
  { name: 'Resource exact path does not match a longer one', statements: [allow({ Resource: `${SVC}/rates` })], expected: I },
  { name: 'Resource path prefix', statements: [allow({ Resource: `${SVC}/rates/*` })], expected: A },
  { name: 'Resource * spans "/"', statements: [allow({ Resource: `${SVC}/*/today` })], expected: A },
  { name: 'Resource ?', statements: [allow({ Resource: `${SVC}/rates/t?day` })], expected: A },
  { name: 'Resource wildcard region', statements: [allow({ Resource: `arn:aws:vpc-lattice:*:${ACCOUNT}:service/*` })], expected: A },
  { name: 'Resource partial wildcard region', statements: [allow({ Resource: `arn:aws:vpc-lattice:us-east-*:${ACCOUNT}:service/svc-0123456789abcdef0/*` })], expected: A },
  { name: 'Resource short ARN ending in * expands', statements: [allow({ Resource: 'arn:aws:vpc-lattice:us-east-1:*' })], expected: A },
  { name: 'Resource short ARN without * matches nothing', statements: [allow({ Resource: `arn:aws:vpc-lattice:us-east-1:${ACCOUNT}` })], expected: I },
  {
    name: 'Resource wildcard does not swallow a colon',
    statements: [allow({ Resource: 'arn:aws:vpc-lattice:*:service/svc-0123456789abcdef0/*' })],
    expected: I,
  },
  { name: 'Resource *', statements: [allow({ Resource: '*' })], expected: A },
  { name: 'Resource another service', statements: [allow({ Resource: `arn:aws:vpc-lattice:us-east-1:${ACCOUNT}:service/svc-0aaaaaaaaaaaaaaaa/*` })], expected: I },
  { name: 'Resource is case-sensitive', statements: [allow({ Resource: `${SVC}/Rates/*` })], expected: I },
  { name: 'NotResource elsewhere', statements: [allow({ Resource: undefined, NotResource: `${SVC}/admin/*` })], expected: A },
  {
    name: 'NotResource here',
    statements: [allow({ Resource: undefined, NotResource: `${SVC}/admin/*` })],
    resource: `${SVC}/admin/users`,
    expected: I,
  },

  // ---- Principal
  { name: 'Principal {AWS: "*"}', statements: [allow({ Principal: { AWS: '*' } })], expected: A },
  { name: 'Principal role ARN matches its sessions', statements: [allow({ Principal: { AWS: ROLE } })], expected: A },
  { name: 'Principal session ARN', statements: [allow({ Principal: { AWS: [OTHER_ROLE, SESSION] } })], expected: A },
  { name: 'Principal another role', statements: [allow({ Principal: { AWS: OTHER_ROLE } })], expected: I },
  {
    name: 'Principal account',
    statements: [allow({ Principal: { AWS: ACCOUNT } })],
    expected: A,
    notCrossChecked: {
      reason: 'an account principal delegates to the account\'s identity policies; iam-simulate models that, this evaluator judges the resource policy alone (Lattice checks identity policies separately)',
      iamSimulateSays: I,
    },
  },
  { name: 'anonymous caller, Principal "*"', statements: [allow()], principal: ANONYMOUS_PRINCIPAL, expected: A },
  { name: 'anonymous caller, role principal', statements: [allow({ Principal: { AWS: ROLE } })], principal: ANONYMOUS_PRINCIPAL, expected: I },
  {
    name: 'Deny NotPrincipal denies everyone else',
    statements: [allow(), { Effect: 'Deny', NotPrincipal: { AWS: OTHER_ROLE }, Action: '*', Resource: '*' }],
    expected: E,
  },
  {
    name: 'Deny NotPrincipal spares the named role',
    statements: [allow(), { Effect: 'Deny', NotPrincipal: { AWS: ROLE }, Action: '*', Resource: '*' }],
    expected: A,
  },

  // ---- Effects
  { name: 'explicit deny wins over allow', statements: [allow(), deny()], expected: E },
  { name: 'deny that does not apply', statements: [allow(), deny({ Condition: { StringEquals: { [TEAM]: 'red' } } })], context: { [TEAM]: 'blue' }, expected: A },
  { name: 'default deny', statements: [allow({ Condition: { StringEquals: { [TEAM]: 'red' } } })], expected: I },
  { name: 'deny alone', statements: [deny()], expected: E },

  // ---- Policy variables
  {
    name: 'variable in a condition value',
    statements: when({ StringEquals: { 'aws:PrincipalTag/x509SAN/URI': 'spiffe://example.org/service/${aws:PrincipalTag/name}' } }),
    context: { 'aws:PrincipalTag/x509SAN/URI': ORDERS, 'aws:PrincipalTag/name': 'orders' },
    expected: A,
  },
  {
    name: 'variable name is case-insensitive',
    statements: when({ StringEquals: { 'aws:PrincipalTag/x509SAN/URI': 'spiffe://example.org/service/${AWS:principaltag/NAME}' } }),
    context: { 'aws:PrincipalTag/x509SAN/URI': ORDERS, 'aws:PrincipalTag/name': 'orders' },
    expected: A,
  },
  {
    name: 'unresolvable variable does not match',
    statements: when({ StringEquals: { 'aws:PrincipalTag/x509SAN/URI': 'spiffe://example.org/service/${aws:PrincipalTag/name}' } }),
    context: { 'aws:PrincipalTag/x509SAN/URI': ORDERS },
    expected: I,
  },
  {
    name: 'multi-valued key cannot be a variable',
    statements: when({ StringEquals: { [TEAM]: '${vpc-lattice-svcs:RequestQueryString/x}' } }),
    context: { [TEAM]: 'a', [QS]: ['a'] },
    expected: I,
  },
  {
    name: 'unresolvable variable under a negated operator matches (AWS: "inverted operators match a null value")',
    statements: when({ StringNotEquals: { [TEAM]: '${aws:PrincipalTag/other}' } }),
    context: { [TEAM]: 'blue' },
    expected: A,
    notCrossChecked: {
      reason: 'iam-simulate makes the negated operator false; IAM docs (reference_policies_variables, "Policy variables with no value") say StringNotEquals matches',
      iamSimulateSays: I,
    },
  },
  {
    name: 'variable default value',
    statements: when({ StringEquals: { [TEAM]: "${aws:PrincipalTag/other, 'blue'}" } }),
    context: { [TEAM]: 'blue' },
    expected: A,
  },
  {
    name: 'substituted value is literal under StringLike',
    statements: when({ StringLike: { 'aws:PrincipalTag/x509SAN/URI': 'spiffe://example.org/service/${aws:PrincipalTag/name}' } }),
    context: { 'aws:PrincipalTag/x509SAN/URI': ORDERS, 'aws:PrincipalTag/name': '*' },
    expected: I,
  },
  ...operatorCases('StringEquals', TEAM, 'a${*}b${?}c${$}', [
    {
      name: '${*} ${?} ${$} escapes',
      value: 'a*b?c$',
      expected: A,
      notCrossChecked: { reason: 'iam-simulate keeps "${*}" as text under StringEquals; IAM docs: the special variables work "in any string where you can use regular policy variables"', iamSimulateSays: I },
    },
    { name: 'escapes are not wildcards', value: 'axxbycz', expected: I },
  ]),
  ...operatorCases('StringLike', TEAM, 'a${*}', [
    { name: 'escaped * under StringLike is literal', value: 'ab', expected: I },
    { name: 'escaped * under StringLike equals "*"', value: 'a*', expected: A },
  ]),
  {
    name: 'variable in Resource',
    statements: [allow({ Resource: `${SVC}/\${aws:PrincipalTag/team}/*` })],
    context: { [TEAM]: 'rates' },
    expected: A,
  },
  { name: 'unresolvable variable in Resource matches nothing', statements: [allow({ Resource: `${SVC}/\${aws:PrincipalTag/team}/*` })], expected: I },
  {
    name: 'variable in the resource component of an ArnLike value',
    statements: when({ ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/\${aws:PrincipalTag/role}` } }),
    context: { 'aws:PrincipalArn': ROLE, 'aws:PrincipalTag/role': 'trellis-dev-workload' },
    expected: A,
  },
  {
    name: 'variable in the account component of an ArnLike value',
    statements: when({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::${aws:PrincipalAccount}:role/trellis-*' } }),
    context: { 'aws:PrincipalArn': ROLE, 'aws:PrincipalAccount': ACCOUNT },
    expected: A,
    notCrossChecked: { reason: 'iam-simulate splits the ARN at the colon inside "${aws:PrincipalAccount}"', iamSimulateSays: I },
  },
  {
    name: 'Version 2008-10-17 takes ${…} literally',
    version: '2008-10-17',
    statements: when({ StringEquals: { [TEAM]: '${aws:PrincipalTag/other}' } }),
    context: { [TEAM]: '${aws:PrincipalTag/other}', 'aws:PrincipalTag/other': 'blue' },
    expected: A,
    notCrossChecked: { reason: 'iam-simulate substitutes variables whatever the Version; IAM only does so for 2012-10-17', iamSimulateSays: I },
  },
];

const requestOf = (c: Case): EvaluationRequest => ({
  principal: c.principal ?? SESSION,
  action: c.action ?? INVOKE,
  resource: c.resource ?? `${SVC}/rates/today`,
  context: c.context ?? {},
});

const documentOf = (c: Case): Record<string, unknown> => ({
  Version: c.version ?? '2012-10-17',
  // undefined members (Action: undefined when NotAction is used) are removed, as JSON would.
  Statement: JSON.parse(JSON.stringify(c.statements)) as unknown,
});

const iamSimulateDecision = (c: Case): Promise<Decision> => simulate(documentOf(c), requestOf(c), ACCOUNT);

describe('evaluatePolicy: operator table', () => {
  it('has a unique name per case', () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(evaluatePolicy(documentOf(c), requestOf(c)).decision).toBe(c.expected);
    // The same document as JSON text (the data plane's form) decides the same.
    expect(evaluatePolicy(JSON.stringify(documentOf(c)), requestOf(c)).decision).toBe(c.expected);
  });
});

describe('evaluatePolicy: cross-check with @cloud-copilot/iam-simulate', () => {
  const checked = cases.filter((c) => c.notCrossChecked === undefined);

  it.each(checked.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    expect(await iamSimulateDecision(c)).toBe(c.expected);
  });

  it.each(cases.filter((c) => c.notCrossChecked).map((c) => [c.name, c] as const))(
    'documented disagreement still holds: %s',
    async (_name, c) => {
      expect(await iamSimulateDecision(c)).toBe(c.notCrossChecked?.iamSimulateSays);
      expect(c.expected).not.toBe(c.notCrossChecked?.iamSimulateSays);
    },
  );

  it('cross-checks all but a handful of cases', () => {
    expect(checked.length).toBeGreaterThan(cases.length - 8);
  });
});

describe('evaluatePolicy: result', () => {
  const policy = {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Everyone', ...allow() },
      { ...allow({ Condition: { StringEquals: { [TEAM]: 'blue' } } }) },
      { Sid: 'NoRed', ...deny({ Condition: { StringEquals: { [TEAM]: 'red' } } }) },
    ],
  };

  it('lists every applying statement and names the first Allow when allowed', () => {
    expect(evaluatePolicy(policy, requestOf({ name: '', statements: [], context: { [TEAM]: 'blue' }, expected: A }))).toEqual({
      decision: 'Allow',
      matchedStatements: [
        { index: 0, sid: 'Everyone', effect: 'Allow' },
        { index: 1, effect: 'Allow' },
      ],
      decidingStatement: { index: 0, sid: 'Everyone' },
    });
  });

  it('names the Deny when explicitly denied', () => {
    expect(evaluatePolicy(policy, requestOf({ name: '', statements: [], context: { [TEAM]: 'red' }, expected: E }))).toEqual({
      decision: 'ExplicitDeny',
      matchedStatements: [
        { index: 0, sid: 'Everyone', effect: 'Allow' },
        { index: 2, sid: 'NoRed', effect: 'Deny' },
      ],
      decidingStatement: { index: 2, sid: 'NoRed' },
    });
  });

  it('has no deciding statement for the default deny', () => {
    expect(evaluatePolicy({ Statement: allow({ Action: 'vpc-lattice-svcs:Connect' }) }, requestOf({ name: '', statements: [], expected: I }))).toEqual({
      decision: 'ImplicitDeny',
      matchedStatements: [],
    });
  });

  it('prepares a policy once and evaluates it many times', () => {
    const prepared = preparePolicy(JSON.stringify(policy));
    expect(prepared.statementCount).toBe(3);
    expect(prepared.evaluate(requestOf({ name: '', statements: [], context: { [TEAM]: 'red' }, expected: E })).decision).toBe('ExplicitDeny');
    expect(prepared.evaluate(requestOf({ name: '', statements: [], context: { [TEAM]: 'blue' }, expected: A })).decision).toBe('Allow');
  });
});

describe('evaluatePolicy: documents it cannot interpret', () => {
  const request = requestOf({ name: '', statements: [], expected: I });
  const rejects = (document: unknown, path: string, message: RegExp): void => {
    let thrown: unknown;
    try {
      evaluatePolicy(document, request);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PolicyDocumentError);
    expect((thrown as PolicyDocumentError).path).toBe(path);
    expect((thrown as PolicyDocumentError).message).toMatch(message);
  };
  const withCondition = (condition: unknown): unknown => ({ Version: '2012-10-17', Statement: [allow({ Condition: condition })] });

  it('refuses an unknown condition operator', () => {
    rejects(withCondition({ StringEqualz: { [TEAM]: 'blue' } }), 'Statement[0].Condition.StringEqualz', /unknown condition operator "StringEqualz"/);
  });
  it('refuses operators it does not implement', () => {
    rejects(withCondition({ DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } }), 'Statement[0].Condition.DateLessThan', /not supported/);
    rejects(withCondition({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }), 'Statement[0].Condition.IpAddress', /not supported/);
  });
  it('refuses NullIfExists and unknown set operators', () => {
    rejects(withCondition({ NullIfExists: { [TEAM]: 'true' } }), 'Statement[0].Condition.NullIfExists', /Null has no IfExists/);
    rejects(withCondition({ 'ForSomeValues:StringEquals': { [TEAM]: 'a' } }), 'Statement[0].Condition.ForSomeValues:StringEquals', /unknown set operator/);
  });
  it('refuses malformed documents', () => {
    rejects('{"Statement":', '', /not valid JSON/);
    rejects({ Version: '2012-10-17', Statement: [] }, 'Statement', /at least one statement/);
    rejects({ Version: '2020-01-01', Statement: [allow()] }, 'Version', /2012-10-17/);
    rejects({ Statement: [allow({ Effect: 'allow' })] }, 'Statement[0].Effect', /"Allow" or "Deny"/);
    rejects({ Statement: [allow({ NotAction: 'x:y' })] }, 'Statement[0]', /exactly one of Action and NotAction/);
    rejects({ Statement: [allow({ Principal: undefined })] }, 'Statement[0]', /exactly one of Principal and NotPrincipal/);
    rejects({ Statement: [allow({ Principal: { Service: 'lambda.amazonaws.com' } })] }, 'Statement[0].Principal.Service', /not supported/);
    rejects({ Statement: [allow({ Actions: INVOKE })] }, 'Statement[0].Actions', /unknown statement element/);
    rejects(withCondition({ StringEquals: { [TEAM]: { nested: true } } }), `Statement[0].Condition.StringEquals.${TEAM}`, /string, number or boolean/);
  });
});
