/**
 * The SVID domain: a workload's SVID state (its current request, the certificate being issued, the
 * issued SVID or the failure, every serial ever issued), as the use cases and the repository share it.
 */
import type { PendingEvent } from '../events/catalog';

export type SvidStatus = 'pending' | 'issued' | 'failed';
export type SvidTrigger = 'registration' | 'csr-submitted' | 'renewal';

export interface SvidRequestRecord {
  requestId: string;
  csr: string;
  requestedAt: string;
  trigger: SvidTrigger;
}

export interface SvidFailure {
  requestId: string;
  reason: string;
  message: string;
  at: string;
}

export interface InFlight {
  requestId: string;
  notBefore: string;
  notAfter: string;
  startedAt: string;
  certificateArn?: string;
}

export interface IssuedSvid {
  requestId: string;
  trigger: SvidTrigger;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  certificatePem: string;
  chainPem: string;
  certificateArn: string;
  issuedAt: string;
  /** The CSR it was issued from: renewal reuses it (the key never leaves the workload). */
  csr: string;
}

export interface SvidState {
  workloadId: string;
  spiffeId: string;
  workloadCreatedAt?: string;
  status?: SvidStatus;
  request?: SvidRequestRecord;
  inFlight?: InFlight;
  svid?: IssuedSvid;
  failure?: SvidFailure;
  serials?: Set<string>;
  revokedSerials?: Set<string>;
  deletedAt?: string;
  expiresAt?: number;
  dueAt?: string;
  revision?: number;
  pendingEvents?: PendingEvent[];
}

export interface WorkloadRef {
  id: string;
  spiffeId: string;
  createdAt: string;
}

/** True when the item describes this incarnation of the workload (not one deleted before it was registered). */
export function belongsTo(state: SvidState | undefined, workload: WorkloadRef): state is SvidState {
  return state !== undefined && (state.deletedAt === undefined || state.deletedAt < workload.createdAt);
}

