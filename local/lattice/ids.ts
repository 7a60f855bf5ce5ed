import { createHash } from 'node:crypto';

/**
 * Identifier formats of VPC Lattice (botocore vpc-lattice 2022-11-30 service-2.json; docs/aws-behaviour.md, "VPC Lattice auth policies ›
 * Lattice identifiers") and
 * the deterministic ids this stand-in gives its services. Smithy `pattern` traits are written unanchored; the
 * service matches whole values, so every pattern here is anchored.
 */

const ARN_PREFIX = String.raw`arn(?::[a-z0-9]+(?:[.-][a-z0-9]+)*){2}(?::(?:[a-z0-9]+(?:[.-][a-z0-9]+)*)?){2}`;

export const RESOURCE_IDENTIFIER_PATTERN = new RegExp(
  String.raw`^(?:(?:sn|svc|rcfg)-[0-9a-z]{17}|${ARN_PREFIX}:(?:servicenetwork/sn|resourceconfiguration/rcfg|service/svc)-[0-9a-z]{17})$`,
);
export const SERVICE_IDENTIFIER_PATTERN = /^(?:svc-[0-9a-z]{17}|arn:[a-z0-9-]+:vpc-lattice:[a-zA-Z0-9-]+:\d{12}:service\/svc-[0-9a-z]{17})$/;
export const SERVICE_ID_PATTERN = /^svc-[0-9a-z]{17}$/;
/** ServiceName: `[a-z0-9-]+`, not starting with `svc-`, no leading/trailing hyphen, no `--` (length 3–40 checked apart). */
export const SERVICE_NAME_PATTERN = /^(?!svc-)(?!-)(?!.*-$)(?!.*--)[a-z0-9-]+$/;
export const CERTIFICATE_ARN_PATTERN = new RegExp(String.raw`^(?:${ARN_PREFIX}:certificate/[0-9a-z-]+)?$`);
/** ClientToken `.*[!-~]+.*`: at least one printable, non-space ASCII character. */
export const CLIENT_TOKEN_PATTERN = /^.*[!-~]+.*$/s;

export type LatticeResourceKind = 'service' | 'servicenetwork' | 'resourceconfiguration';

const KIND_BY_PREFIX: Readonly<Record<string, LatticeResourceKind>> = {
  svc: 'service',
  sn: 'servicenetwork',
  rcfg: 'resourceconfiguration',
};

export interface ParsedIdentifier {
  kind: LatticeResourceKind;
  /** The bare id, e.g. `svc-0123456789abcdef0`. */
  id: string;
  /** Present when the caller named the resource by ARN. */
  arn: string | undefined;
}

/**
 * Splits an id-or-ARN that already matched RESOURCE_IDENTIFIER_PATTERN or SERVICE_IDENTIFIER_PATTERN.
 * Returns undefined for anything else.
 */
export const parseIdentifier = (identifier: string): ParsedIdentifier | undefined => {
  const arn = identifier.startsWith('arn:') ? identifier : undefined;
  const id = arn === undefined ? identifier : identifier.slice(identifier.lastIndexOf('/') + 1);
  const prefix = id.slice(0, id.indexOf('-'));
  const kind = KIND_BY_PREFIX[prefix];
  return kind === undefined ? undefined : { kind, id, arn };
};

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * `svc-` + 17 lowercase hex characters, a hash of (account, name): restarting the stand-in gives every service the
 * same id, so users' configs may hold ids. Hex keeps the look of real ids (`svc-0123456789abcdef0`).
 */
export const deriveServiceId = (accountId: string, name: string): string =>
  `svc-${sha256Hex(`vpc-lattice-local/service/${accountId}/${name}`).slice(0, 17)}`;

export const serviceArn = (region: string, accountId: string, serviceId: string): string =>
  `arn:aws:vpc-lattice:${region}:${accountId}:service/${serviceId}`;

/**
 * Real Lattice names look like `rates-default-0b1f56d26672bf677.7d67968.vpc-lattice-svcs.us-east-1.on.aws`:
 * `<name>-<id without "svc-">.<7 hex>.vpc-lattice-svcs.<region>.on.aws` (as printed by a real service in
 * aws-samples/amazon-eks-security-immersion-day). The 7-hex label is derived here from (account, region).
 */
export const serviceDomainName = (region: string, accountId: string, name: string, serviceId: string): string =>
  `${name}-${serviceId.slice('svc-'.length)}.${sha256Hex(`vpc-lattice-local/dns/${accountId}/${region}`).slice(0, 7)}.vpc-lattice-svcs.${region}.on.aws`;

/** A Route 53 style zone id (`Z` + 20 upper-case characters), stable per region. */
export const hostedZoneId = (region: string): string =>
  `Z${sha256Hex(`vpc-lattice-local/zone/${region}`).slice(0, 20).toUpperCase()}`;
