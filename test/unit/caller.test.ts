import { describe, expect, it } from 'vitest';
import { callerFromArn, callerIsOneOf, principalArnOf } from '../../shared/http/caller';

describe('caller identity', () => {
  it('maps an assumed-role session to the role ARN policies name', () => {
    expect(principalArnOf('arn:aws:sts::111122223333:assumed-role/platform-admin/alice')).toBe('arn:aws:iam::111122223333:role/platform-admin');
    expect(principalArnOf('arn:aws:iam::111122223333:user/bob')).toBe('arn:aws:iam::111122223333:user/bob');
  });

  it('treats a session of a listed admin role as an administrator, and nobody else', () => {
    const admins = ['arn:aws:iam::111122223333:role/platform-admin'];
    expect(callerFromArn('arn:aws:sts::111122223333:assumed-role/platform-admin/alice', admins).isAdmin).toBe(true);
    expect(callerFromArn('arn:aws:sts::111122223333:assumed-role/platform-admin-2/alice', admins).isAdmin).toBe(false);
    expect(callerFromArn('arn:aws:sts::999999999999:assumed-role/platform-admin/alice', admins).isAdmin).toBe(false);
    expect(callerFromArn('arn:aws:iam::111122223333:user/platform-admin', admins).isAdmin).toBe(false);
  });

  it('matches selectors listed as role or session ARNs', () => {
    const caller = callerFromArn('arn:aws:sts::111122223333:assumed-role/orders/i-123', []);
    expect(callerIsOneOf(caller, ['arn:aws:iam::111122223333:role/orders'])).toBe(true);
    expect(callerIsOneOf(caller, ['arn:aws:sts::111122223333:assumed-role/orders/i-123'])).toBe(true);
    expect(callerIsOneOf(caller, ['arn:aws:iam::111122223333:role/reviews'])).toBe(false);
  });
});
