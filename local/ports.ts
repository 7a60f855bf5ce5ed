/** Local stack ports: defaults, or all moved together with --port-base / TRELLIS_PORT_BASE. */
export interface Ports {
  api: number;
  websocket: number;
  lambda: number;
  eventBridge: number;
  dynamodb: number;
  acmPca: number;
  lattice: number;
  rolesAnywhere: number;
  sqs: number;
  /** The S3 stand-in (the CA's CRL bucket): base + 16. */
  s3: number;
  dataPlane: number;
}

export const DEFAULT_PORTS: Ports = {
  api: 3000,
  websocket: 3001,
  lambda: 3002,
  eventBridge: 4010,
  dynamodb: 4567,
  acmPca: 4020,
  lattice: 4030,
  rolesAnywhere: 4040,
  sqs: 4050,
  s3: 4060,
  dataPlane: 4443,
};

export function portsFromBase(base: number): Ports {
  return {
    api: base,
    websocket: base + 1,
    lambda: base + 2,
    eventBridge: base + 10,
    dynamodb: base + 11,
    acmPca: base + 12,
    lattice: base + 13,
    rolesAnywhere: base + 14,
    sqs: base + 15,
    s3: base + 16,
    dataPlane: base + 20,
  };
}
