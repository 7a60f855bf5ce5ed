import { createTargetHandler } from '../../shared/lattice/target-handler';

/** Billing: a VPC Lattice Lambda target that logs and echoes the caller's identity claims. */
export const handler = createTargetHandler({ serviceName: 'billing', displayName: 'Billing' });
