import { createTargetHandler } from '../../shared/lattice/target-handler';

/** Rates: a VPC Lattice Lambda target that logs and echoes the caller's identity claims. */
export const handler = createTargetHandler({ serviceName: 'rates', displayName: 'Rates' });
