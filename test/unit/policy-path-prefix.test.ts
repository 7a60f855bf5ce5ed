import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../shared/policy/compiler';
import { TrellisError } from '../../shared/errors';

const options = {
  serviceArn: 'arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0',
  principalArn: 'arn:aws:iam::111122223333:role/trellis-local-workload',
  trustDomain: 'example.org',
};

describe('compilePolicy path prefixes', () => {
  it.each(['/public/../', '/public/..', '/./x', '/a/%2e%2e/', '/a%2F', '/a%2E'])('refuses %s, which a normalising target could walk out of', (prefix) => {
    try {
      compilePolicy([{ id: 'g1', caller: 'spiffe://example.org/service/orders', pathPrefixes: [prefix] }], options);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TrellisError);
      expect((error as TrellisError).details?.map((d) => d.rule)).toContain('path-traversal');
    }
  });

  it('still accepts dots inside segment names', () => {
    const compiled = compilePolicy([{ id: 'g1', caller: 'spiffe://example.org/service/orders', pathPrefixes: ['/v1.2/..hidden', '/files/a..b/'] }], options);
    expect(compiled.policy).toContain('/v1.2/..hidden*');
  });
});
