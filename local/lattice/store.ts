import {
  deriveServiceId,
  hostedZoneId,
  parseIdentifier,
  serviceArn,
  serviceDomainName,
  type LatticeResourceKind,
} from './ids';

/**
 * In-memory state of the local VPC Lattice: services and the auth policy of each resource. The control plane
 * (control-plane.ts) changes it through the API; other local code (the data plane, tests) reads it synchronously.
 * Every getter returns a copy, so callers cannot change the store by accident.
 */

export type AuthType = 'NONE' | 'AWS_IAM';
export type AuthPolicyState = 'Active' | 'Inactive';
export type ServiceStatus = 'ACTIVE' | 'CREATE_IN_PROGRESS' | 'DELETE_IN_PROGRESS' | 'CREATE_FAILED' | 'DELETE_FAILED';

export interface DnsEntry {
  domainName: string;
  hostedZoneId: string;
}

export interface ServiceRecord {
  id: string;
  arn: string;
  name: string;
  authType: AuthType;
  status: ServiceStatus;
  /** ISO-8601. */
  createdAt: string;
  /** ISO-8601. */
  lastUpdatedAt: string;
  dnsEntry: DnsEntry;
  customDomainName: string | undefined;
  certificateArn: string | undefined;
}

export interface AuthPolicyView {
  policy: string;
  /** Increments on every Put/Delete (and out-of-band change) of this resource's policy; starts at 0. */
  version: number;
  state: AuthPolicyState;
  createdAt: string;
  lastUpdatedAt: string;
}

export interface CreateServiceInput {
  name: string;
  authType?: AuthType | undefined;
  customDomainName?: string | undefined;
  certificateArn?: string | undefined;
  clientToken?: string | undefined;
}

export type CreateServiceResult =
  /** A new service. */
  | { outcome: 'created'; service: ServiceRecord }
  /** A retry: same clientToken, same request. The service made the first time. */
  | { outcome: 'replayed'; service: ServiceRecord }
  /** The name belongs to another service (ConflictException). */
  | { outcome: 'nameTaken'; service: ServiceRecord }
  /** The clientToken was used before for a different request (ConflictException). */
  | { outcome: 'tokenReused'; service: ServiceRecord };

export interface UpdateServiceInput {
  authType?: AuthType | undefined;
  /** An empty string removes the certificate. */
  certificateArn?: string | undefined;
}

export interface LatticeStoreOptions {
  region: string;
  accountId: string;
  /** Clock for createdAt/lastUpdatedAt; tests may fix it. */
  clock?: () => Date;
}

interface PolicyDocument {
  text: string;
  createdAt: string;
  lastUpdatedAt: string;
}

interface ResourcePolicyState {
  document: PolicyDocument | undefined;
  version: number;
  putCount: number;
}

/** An auth policy decides requests only while the resource's authType is AWS_IAM (docs/aws-behaviour.md, "VPC Lattice auth policies › Lattice control-plane API"). */
export const authPolicyState = (authType: AuthType): AuthPolicyState => (authType === 'AWS_IAM' ? 'Active' : 'Inactive');

const copyService = (s: ServiceRecord): ServiceRecord => ({ ...s, dnsEntry: { ...s.dnsEntry } });

export class LatticeStore {
  readonly region: string;
  readonly accountId: string;
  private readonly clock: () => Date;
  /** By service id; Map keeps creation order, which ListServices pages through. */
  private readonly services = new Map<string, ServiceRecord>();
  /** By resource id (svc-…, sn-…, rcfg-…). */
  private readonly policies = new Map<string, ResourcePolicyState>();
  private readonly clientTokens = new Map<string, { fingerprint: string; serviceId: string }>();

  constructor(options: LatticeStoreOptions) {
    this.region = options.region;
    this.accountId = options.accountId;
    this.clock = options.clock ?? (() => new Date());
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** Finds a service by id or ARN. An ARN must match exactly (partition, region and account included). */
  private findService(idOrArn: string): ServiceRecord | undefined {
    const parsed = parseIdentifier(idOrArn);
    if (parsed === undefined || parsed.kind !== 'service') return undefined;
    const service = this.services.get(parsed.id);
    if (service === undefined || (parsed.arn !== undefined && parsed.arn !== service.arn)) return undefined;
    return service;
  }

  /** Kind of resource an identifier names (for error messages), whether or not it exists. */
  resourceKind(idOrArn: string): LatticeResourceKind | undefined {
    return parseIdentifier(idOrArn)?.kind;
  }

  // ---- services ----

  createService(input: CreateServiceInput): CreateServiceResult {
    const authType = input.authType ?? 'NONE';
    const fingerprint = JSON.stringify([input.name, authType, input.customDomainName ?? null, input.certificateArn ?? null]);
    if (input.clientToken !== undefined) {
      const seen = this.clientTokens.get(input.clientToken);
      const earlier = seen === undefined ? undefined : this.services.get(seen.serviceId);
      if (seen !== undefined && earlier !== undefined) {
        return { outcome: seen.fingerprint === fingerprint ? 'replayed' : 'tokenReused', service: copyService(earlier) };
      }
    }
    const taken = this.getServiceByName(input.name);
    if (taken !== undefined) return { outcome: 'nameTaken', service: taken };

    const id = deriveServiceId(this.accountId, input.name);
    const now = this.now();
    const service: ServiceRecord = {
      id,
      arn: serviceArn(this.region, this.accountId, id),
      name: input.name,
      authType,
      // Real services pass through CREATE_IN_PROGRESS; the stand-in is ready at once.
      status: 'ACTIVE',
      createdAt: now,
      lastUpdatedAt: now,
      dnsEntry: { domainName: serviceDomainName(this.region, this.accountId, input.name, id), hostedZoneId: hostedZoneId(this.region) },
      customDomainName: input.customDomainName,
      certificateArn: input.certificateArn === '' ? undefined : input.certificateArn,
    };
    this.services.set(id, service);
    if (input.clientToken !== undefined) this.clientTokens.set(input.clientToken, { fingerprint, serviceId: id });
    return { outcome: 'created', service: copyService(service) };
  }

  getService(idOrArn: string): ServiceRecord | undefined {
    const service = this.findService(idOrArn);
    return service === undefined ? undefined : copyService(service);
  }

  getServiceByName(name: string): ServiceRecord | undefined {
    for (const service of this.services.values()) if (service.name === name) return copyService(service);
    return undefined;
  }

  /** The service a request to `host` reaches: its generated DNS name or its custom domain name (case-insensitive). */
  getServiceByDomainName(host: string): ServiceRecord | undefined {
    const wanted = host.toLowerCase();
    for (const service of this.services.values()) {
      if (service.dnsEntry.domainName === wanted || service.customDomainName?.toLowerCase() === wanted) return copyService(service);
    }
    return undefined;
  }

  /** All services in creation order. */
  listServices(): ServiceRecord[] {
    return [...this.services.values()].map(copyService);
  }

  updateService(idOrArn: string, patch: UpdateServiceInput): ServiceRecord | undefined {
    const service = this.findService(idOrArn);
    if (service === undefined) return undefined;
    if (patch.authType !== undefined) service.authType = patch.authType;
    if (patch.certificateArn !== undefined) service.certificateArn = patch.certificateArn === '' ? undefined : patch.certificateArn;
    service.lastUpdatedAt = this.now();
    return copyService(service);
  }

  // ---- auth policies ----

  /**
   * The resource an auth policy attaches to, by id or ARN. Only services exist in this stand-in, so service
   * network and resource configuration identifiers never resolve.
   */
  private policyState(idOrArn: string, create: boolean): { service: ServiceRecord; state: ResourcePolicyState | undefined } | undefined {
    const service = this.findService(idOrArn);
    if (service === undefined) return undefined;
    let state = this.policies.get(service.id);
    if (state === undefined && create) {
      state = { document: undefined, version: 0, putCount: 0 };
      this.policies.set(service.id, state);
    }
    return { service, state };
  }

  private writePolicy(state: ResourcePolicyState, text: string | null): void {
    const now = this.now();
    state.document = text === null ? undefined : { text, createdAt: state.document?.createdAt ?? now, lastUpdatedAt: now };
    state.version += 1;
  }

  /** PutAuthPolicy: stores the policy, counts the call. Undefined when the resource does not exist. */
  putAuthPolicy(idOrArn: string, policy: string): { policy: string; state: AuthPolicyState } | undefined {
    const found = this.policyState(idOrArn, true);
    if (found?.state === undefined) return undefined;
    this.writePolicy(found.state, policy);
    found.state.putCount += 1;
    return { policy, state: authPolicyState(found.service.authType) };
  }

  /** DeleteAuthPolicy: false when the resource does not exist. Deleting an absent policy succeeds (the op is idempotent). */
  deleteAuthPolicy(idOrArn: string): boolean {
    const found = this.policyState(idOrArn, true);
    if (found?.state === undefined) return false;
    this.writePolicy(found.state, null);
    return true;
  }

  /** The policy now attached, with its version and state; undefined when none is (or the resource does not exist). */
  getAuthPolicy(idOrArn: string): AuthPolicyView | undefined {
    const found = this.policyState(idOrArn, false);
    const document = found?.state?.document;
    if (found?.state === undefined || document === undefined) return undefined;
    return {
      policy: document.text,
      version: found.state.version,
      state: authPolicyState(found.service.authType),
      createdAt: document.createdAt,
      lastUpdatedAt: document.lastUpdatedAt,
    };
  }

  /** Version of the resource's policy slot (also after a delete, when getAuthPolicy is undefined); 0 if never set. */
  policyVersion(idOrArn: string): number {
    return this.policyState(idOrArn, false)?.state?.version ?? 0;
  }

  /** How many PutAuthPolicy calls succeeded for the resource (out-of-band changes do not count). */
  putCount(idOrArn: string): number {
    return this.policyState(idOrArn, false)?.state?.putCount ?? 0;
  }

  /**
   * Changes a policy behind the API's back (drift), without validation and without counting a PutAuthPolicy.
   * `null` removes the policy. Throws when the resource does not exist.
   */
  setAuthPolicyOutOfBand(idOrArn: string, policy: string | null): void {
    const found = this.policyState(idOrArn, true);
    if (found?.state === undefined) throw new Error(`No VPC Lattice resource ${idOrArn} in the local store`);
    this.writePolicy(found.state, policy);
  }
}
