/**
 * The independent judge: @cloud-copilot/iam-simulate evaluating one resource policy for one
 * request, its answer in the local evaluator's terms (Allow / ExplicitDeny / ImplicitDeny), so a
 * test can assert that the two evaluators and the grants' oracle agree.
 */
import { anonymousPrincipal, runSimulation } from '@cloud-copilot/iam-simulate';
import { ANONYMOUS_PRINCIPAL, type Decision, type EvaluationRequest } from '../../shared/policy/evaluator';

export async function iamSimulateDecision(policy: string | Record<string, unknown>, request: EvaluationRequest, accountId: string): Promise<Decision> {
  const contextVariables: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(request.context)) {
    contextVariables[key] = Array.isArray(value) ? [...(value as string[])] : String(value);
  }
  const result = await runSimulation(
    {
      request: {
        principal: request.principal === ANONYMOUS_PRINCIPAL ? anonymousPrincipal : request.principal,
        action: request.action,
        resource: { resource: request.resource, accountId },
        contextVariables,
      },
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: typeof policy === 'string' ? (JSON.parse(policy) as Record<string, unknown>) : policy,
    },
    {},
  );
  if (result.resultType === 'error') throw new Error(`iam-simulate refused the case: ${result.errors.message}`);
  const overall = { Allowed: 'Allow', ExplicitlyDenied: 'ExplicitDeny', ImplicitlyDenied: 'ImplicitDeny' } as const;
  return overall[result.overallResult as keyof typeof overall];
}
