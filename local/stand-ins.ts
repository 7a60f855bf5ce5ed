/**
 * The AWS stand-ins besides DynamoDB and EventBridge (local ACM PCA, VPC Lattice control plane,
 * IAM Roles Anywhere), started together with the identities of the local stage. Used by
 * `npm start` and by the in-process test stack, so both wire them the same way.
 */
import { join } from 'node:path';
import { startAcmPca, type AcmPcaEmulator } from './acm-pca/acm-pca-emulator';
import { startLatticeControlPlane, type LatticeEmulator } from './lattice/control-plane';
import { startRolesAnywhere, type RolesAnywhereHandle } from './roles-anywhere/server';
import { startLocalS3, type LocalS3 } from './s3/local-s3';
import { workloadRoleTagConditions } from './serverless-config';

export const LOCAL_ACCOUNT = '111122223333';
/** The local CA's CRL bucket (serverless.yml param crlBucket of the local stage). */
export const LOCAL_CRL_BUCKET = 'trellis-local-crl';
export const LOCAL_REGION = 'us-east-1';
/** The stage's workload role, trust anchor and profile (Roles Anywhere), as the template names them. */
export const LOCAL_IDENTITY = {
  workloadRoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/trellis-local-workload`,
  trustAnchorArn: `arn:aws:rolesanywhere:${LOCAL_REGION}:${LOCAL_ACCOUNT}:trust-anchor/00000000-0000-4000-8000-000000000001`,
  profileArn: `arn:aws:rolesanywhere:${LOCAL_REGION}:${LOCAL_ACCOUNT}:profile/00000000-0000-4000-8000-000000000002`,
  /**
   * The role the local functions' Lattice calls appear as in CloudTrail events: the first of
   * serverless.yml's local `policyWriterRoleArns` (every local function signs with one key, so all
   * appear as this role; in AWS each function has its own).
   */
  policyWriterRoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/trellis-local-policy-sync`,
};

/** The access key id the local stack gives its functions, told apart from a user's by the local Lattice control plane. */
export const LOCAL_FUNCTIONS_ACCESS_KEY_ID = 'local-functions';

export interface StandInPorts {
  acmPca?: number;
  lattice?: number;
  rolesAnywhere?: number;
  s3?: number;
}

export interface StandIns {
  acmPca: AcmPcaEmulator;
  lattice: LatticeEmulator;
  rolesAnywhere: RolesAnywhereHandle;
  /** The CA's CRL bucket, file-backed under the state dir (s3/). */
  s3: LocalS3;
  /** Environment for the functions: SDK endpoints and the stage's identities. */
  env: Record<string, string>;
  endpoints: Record<string, string>;
  stop(): Promise<void>;
}

export async function startStandIns(options: { stateDir: string; host?: string; ports?: StandInPorts; log?: boolean; inProgressPolls?: number }): Promise<StandIns> {
  const host = options.host ?? '127.0.0.1';
  const stops: (() => Promise<void>)[] = [];
  try {
    const s3 = await startLocalS3({ dataDir: join(options.stateDir, 's3'), host, port: options.ports?.s3 ?? 0 });
    stops.push(() => s3.stop());
    const acmPca = await startAcmPca({
      dataDir: join(options.stateDir, 'acm-pca'),
      host,
      port: options.ports?.acmPca ?? 0,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT,
      inProgressPolls: options.inProgressPolls ?? 1,
      log: options.log ?? false,
      // The CA publishes its CRLs to the bucket, as a CA with a CRL configuration does (the local one at each revocation).
      crl: { bucket: LOCAL_CRL_BUCKET, write: (key, der) => s3.put(LOCAL_CRL_BUCKET, key, der) },
    });
    stops.push(() => acmPca.stop());
    const lattice = await startLatticeControlPlane({
      host,
      port: options.ports?.lattice ?? 0,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT,
      log: options.log ?? false,
      assumedRoles: { [LOCAL_FUNCTIONS_ACCESS_KEY_ID]: LOCAL_IDENTITY.policyWriterRoleArn },
    });
    stops.push(() => lattice.stop());
    const rolesAnywhere = await startRolesAnywhere({
      host,
      port: options.ports?.rolesAnywhere ?? 0,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT,
      roleArn: LOCAL_IDENTITY.workloadRoleArn,
      profileArn: LOCAL_IDENTITY.profileArn,
      trustAnchorArn: LOCAL_IDENTITY.trustAnchorArn,
      trustAnchors: () => [acmPca.caCertificatePem],
      // The workload role's trust policy admits only SVIDs of the trust domain: enforced here too.
      roleTagConditions: workloadRoleTagConditions(join(import.meta.dirname, '..', 'serverless.yml'), 'local'),
      log: options.log ?? false,
    });
    stops.push(() => rolesAnywhere.stop());
    return {
      acmPca,
      lattice,
      rolesAnywhere,
      s3,
      env: {
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        // serverless.yml param rolesAnywhereEndpoint of the local stage (this SDK version reads no AWS_ENDPOINT_URL_ROLESANYWHERE).
        TRELLIS_LOCAL_ROLES_ANYWHERE_ENDPOINT: rolesAnywhere.endpoint,
        AWS_ENDPOINT_URL_ACM_PCA: acmPca.endpoint,
        AWS_ENDPOINT_URL_VPC_LATTICE: lattice.endpoint,
        TRELLIS_LOCAL_CA_ARN: acmPca.caArn,
        // serverless.yml param pcaIssuedListingUrl: the local CA's list of what it issued (no AWS equivalent).
        TRELLIS_LOCAL_PCA_LISTING_URL: `${acmPca.endpoint}/_local/certificates`,
        // The managed services of the local stage (serverless.yml param policyManagedServices): name=arn pairs.
        TRELLIS_LOCAL_LATTICE_SERVICES: lattice.store
          .listServices()
          .map((s) => `${s.name}=${s.arn}`)
          .join(','),
      },
      endpoints: { acmPca: acmPca.endpoint, lattice: lattice.endpoint, rolesAnywhere: rolesAnywhere.endpoint, s3: s3.endpoint },
      stop: async () => {
        for (const stop of stops.reverse()) await stop().catch(() => {});
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    throw error;
  }
}

/** What the Lattice data plane needs from the stand-ins: the auth policies, the sessions, the trust bundle. */
export function dataPlaneIdentity(standIns: StandIns) {
  return {
    store: standIns.lattice.store,
    credentials: standIns.rolesAnywhere.credentials,
    trustBundle: () => [standIns.acmPca.caCertificatePem],
    roleArn: LOCAL_IDENTITY.workloadRoleArn,
  };
}
