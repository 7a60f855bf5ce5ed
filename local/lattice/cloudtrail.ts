/**
 * What CloudTrail would deliver to the account's default EventBridge bus for the local Lattice
 * control plane's write calls: an "AWS API Call via CloudTrail" event with source `aws.vpc-lattice`
 * (docs/aws-behaviour.md, "EventBridge › CloudTrail events on the default bus").
 *
 * Who called: the caller's SigV4 access key id. The local stack signs its functions' calls with
 * LOCAL_FUNCTIONS_ACCESS_KEY_ID (local/stand-ins.ts), which `assumedRoles` maps to an assumed-role
 * identity of the stage's policy writer role, as Lambda's execution-role session appears in
 * CloudTrail; any other key is an IAM user (a person with the AWS CLI or SDK). Signatures are not
 * verified locally, so this tells the local stack from a user, not a real principal from a forged one.
 *
 * Only what Trellis reads is modelled: eventSource, eventName, userIdentity, requestParameters
 * (the API's members, without the policy text), responseElements: null, errorCode absent (only
 * successful calls are emitted), awsRegion, recipientAccountId, eventID, eventTime.
 */
import { randomUUID } from 'node:crypto';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';

export type JsonObject = { [key: string]: JsonLike };
type JsonLike = string | number | boolean | null | JsonLike[] | JsonObject;

/** The Lattice operations whose success is announced (those that can change an auth policy's effect). */
export const AUDITED_OPERATIONS = ['PutAuthPolicy', 'DeleteAuthPolicy', 'UpdateService'] as const;
export type AuditedOperation = (typeof AUDITED_OPERATIONS)[number];

export const CLOUDTRAIL_SOURCE = 'aws.vpc-lattice';
export const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';

export interface ApiCallRecord {
  operation: AuditedOperation;
  accessKeyId: string | undefined;
  requestParameters: JsonObject;
  region: string;
  accountId: string;
  time: Date;
}

/** Receives each CloudTrail event (the `detail` of an "AWS API Call via CloudTrail" event). */
export type CloudTrailSink = (detail: JsonObject) => Promise<void>;

/** The access key id of a SigV4 `Authorization` header (`… Credential=AKID/date/region/service/aws4_request, …`). */
export function accessKeyIdOf(authorization: string | undefined): string | undefined {
  const match = /Credential=([^/,\s]+)\//.exec(authorization ?? '');
  return match?.[1];
}

const roleNameOf = (roleArn: string): string => roleArn.slice(roleArn.lastIndexOf('/') + 1);

/** CloudTrail's userIdentity for a caller: an assumed role for a mapped key, an IAM user otherwise. */
export function userIdentityFor(accessKeyId: string | undefined, accountId: string, assumedRoles: Readonly<Record<string, string>>, time: Date): JsonObject {
  const key = accessKeyId ?? '';
  const roleArn = assumedRoles[key];
  if (roleArn !== undefined) {
    const roleName = roleNameOf(roleArn);
    const roleId = `AROALOCAL${roleName.toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 12)}`;
    return {
      type: 'AssumedRole',
      principalId: `${roleId}:${roleName}`,
      arn: `arn:aws:sts::${accountId}:assumed-role/${roleName}/${roleName}`,
      accountId,
      accessKeyId: key,
      sessionContext: {
        sessionIssuer: { type: 'Role', principalId: roleId, arn: roleArn, accountId, userName: roleName },
        attributes: { mfaAuthenticated: 'false', creationDate: time.toISOString().replace(/\.\d{3}Z$/, 'Z') },
      },
    };
  }
  return { type: 'IAMUser', principalId: 'AIDALOCALUSER', arn: `arn:aws:iam::${accountId}:user/local-user`, accountId, accessKeyId: key, userName: 'local-user' };
}

/** The CloudTrail record of one successful call (what EventBridge puts in the event's `detail`). */
export function cloudTrailDetail(call: ApiCallRecord, assumedRoles: Readonly<Record<string, string>>): JsonObject {
  return {
    eventVersion: '1.09',
    userIdentity: userIdentityFor(call.accessKeyId, call.accountId, assumedRoles, call.time),
    eventTime: call.time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource: 'vpc-lattice.amazonaws.com',
    eventName: call.operation,
    awsRegion: call.region,
    sourceIPAddress: '127.0.0.1',
    userAgent: 'local',
    requestParameters: call.requestParameters,
    responseElements: null,
    requestID: randomUUID(),
    eventID: randomUUID(),
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: call.accountId,
    eventCategory: 'Management',
  };
}

/**
 * A sink that puts each event on the local bus's default bus through PutEvents. (EventBridge refuses
 * `aws.*` sources from PutEvents; the local bus does not check, which is what lets it stand in for
 * CloudTrail here.)
 */
export function cloudTrailToBus(busEndpoint: string, region: string): { sink: CloudTrailSink; destroy(): void } {
  const client = new EventBridgeClient({ endpoint: busEndpoint, region, credentials: { accessKeyId: 'local-cloudtrail', secretAccessKey: 'local' }, maxAttempts: 2 });
  return {
    sink: async (detail) => {
      const out = await client.send(new PutEventsCommand({ Entries: [{ Source: CLOUDTRAIL_SOURCE, DetailType: CLOUDTRAIL_DETAIL_TYPE, Detail: JSON.stringify(detail), EventBusName: 'default' }] }));
      if ((out.FailedEntryCount ?? 0) > 0) throw new Error(`the local bus refused a CloudTrail event: ${out.Entries?.[0]?.ErrorCode ?? 'unknown'}`);
    },
    destroy: () => client.destroy(),
  };
}
