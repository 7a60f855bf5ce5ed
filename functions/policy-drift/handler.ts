/**
 * Rule on the DEFAULT bus (CloudTrail delivers AWS API calls only there): "AWS API Call via
 * CloudTrail" of VPC Lattice PutAuthPolicy / DeleteAuthPolicy / UpdateService. A call on a managed
 * service by anyone but Trellis's own policy writers reconciles that service at once
 * (shared/policy-sync/repair-drift.ts; why the filter of Trellis's calls is in code, not in the
 * pattern: shared/policy-sync/drift-trigger.ts). Throwing makes EventBridge retry.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { setting } from '../../shared/config';
import { lambdaHandler } from '../../shared/handler';
import { policyDeps } from '../../shared/policy-sync/deps';
import { repairDrift, type DriftRepairOutcome } from '../../shared/policy-sync/repair-drift';

const deps = { ...policyDeps(), writerRoleArns: setting('POLICY_WRITER_ROLE_ARNS') };

export const handler = lambdaHandler(async (event: EventBridgeEvent<string, unknown>): Promise<DriftRepairOutcome> => repairDrift(deps, event.detail));
