import { lambdaHandler } from '../../shared/handler';
import { createTargetHandler } from '../../shared/lattice/target-handler';

/** Billing: a VPC Lattice Lambda target that logs and echoes the caller's identity claims. */
export const handler = lambdaHandler(createTargetHandler({ serviceName: 'billing', displayName: 'Billing' }));
