/** The public surface of @trellis/client: what a workload needs to use its SPIFFE identity. */
export * from './http-transport';
export * from './keys';
export * from './mtls-request';
export * from './roles-anywhere-signer';
export * from './sigv4-request';
export * from './workload';
export * from './edge-error';
export * from './svid-files';
export * from './svid-material';
export * from './session-cache';
export * from './from-svid';
export * from './api-client';
export * from './svid-agent';
export * from './session-duration';
