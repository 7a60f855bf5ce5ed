/** Where `trellis credential-process` and `trellis call` take their settings from: options first, then the local endpoints.json. */
import { describe, expect, it } from 'vitest';
import { resolveServiceUrl, resolveSessionSettings } from '../../client/src/cli/credential-commands';
import { UsageError, type Endpoints } from '../../client/src/cli/context';

const local: Endpoints = {
  api: 'http://127.0.0.1:3000/local',
  region: 'us-east-1',
  rolesAnywhere: 'http://127.0.0.1:4100',
  workloadIdentity: {
    trustAnchorArn: 'arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/t',
    profileArn: 'arn:aws:rolesanywhere:us-east-1:111122223333:profile/p',
    workloadRoleArn: 'arn:aws:iam::111122223333:role/w',
  },
  services: { billing: 'https://127.0.0.1:4443/' },
};

describe('resolveSessionSettings', () => {
  it('defaults the ARNs, region and endpoint from the local endpoints.json', () => {
    expect(resolveSessionSettings({ svidDir: 'd' }, {}, local, {})).toEqual({
      endpoint: 'http://127.0.0.1:4100',
      region: 'us-east-1',
      trustAnchorArn: local.workloadIdentity?.trustAnchorArn,
      profileArn: local.workloadIdentity?.profileArn,
      roleArn: local.workloadIdentity?.workloadRoleArn,
    });
  });

  it('options win; without endpoints.json the endpoint is the region\'s Roles Anywhere endpoint', () => {
    const settings = resolveSessionSettings(
      { svidDir: 'd', trustAnchorArn: 'arn:ta', profileArn: 'arn:p', roleArn: 'arn:r', durationSeconds: 900 },
      { region: 'eu-west-1' },
      undefined,
      {},
    );
    expect(settings).toEqual({ endpoint: 'https://rolesanywhere.eu-west-1.amazonaws.com', region: 'eu-west-1', trustAnchorArn: 'arn:ta', profileArn: 'arn:p', roleArn: 'arn:r', durationSeconds: 900 });
  });

  it('a UsageError names each missing option', () => {
    const attempt = () => resolveSessionSettings({ svidDir: 'd', roleArn: 'arn:r' }, {}, undefined, {});
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow(/missing --trust-anchor-arn, --profile-arn, --region/);
  });
});

describe('resolveServiceUrl', () => {
  it('joins the local service address and the path', () => {
    expect(resolveServiceUrl('billing', '/charges?month=2024-05', {}, local)).toBe('https://127.0.0.1:4443/charges?month=2024-05');
  });

  it('--url is used for a deployed stage', () => {
    expect(resolveServiceUrl('billing', 'charges', { url: 'https://billing-0123.7d67968.vpc-lattice-svcs.us-east-1.on.aws' }, undefined)).toBe(
      'https://billing-0123.7d67968.vpc-lattice-svcs.us-east-1.on.aws/charges',
    );
  });

  it('without --url or a local service of that name: a UsageError saying what to pass', () => {
    expect(() => resolveServiceUrl('billing', '/', {}, undefined)).toThrow(/--url/);
    expect(() => resolveServiceUrl('shipping', '/', {}, local)).toThrow(/the local stack has billing/);
  });
});
