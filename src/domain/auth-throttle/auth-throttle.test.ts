import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bannedUntil,
  type FailureRecord,
  isLive,
  NO_FAILURES,
  recordFailure,
} from './auth-throttle.js';

const policy = { failures: 3, windowMs: 60_000, banMs: 300_000 };
const failures = (...at: number[]): FailureRecord =>
  at.reduce((r, t) => recordFailure(r, t, policy), NO_FAILURES);

describe('auth throttle', () => {
  it('given failures under the threshold, there is no ban', () => {
    assert.equal(bannedUntil(failures(0, 1000), 2000), null);
  });

  it('the threshold within the window bans until the ban time has passed', () => {
    const banned = failures(0, 1000, 2000);
    assert.equal(bannedUntil(banned, 2001), 302_000);
    assert.equal(bannedUntil(banned, 302_000), null);
  });

  it('failures spread wider than the window never add up to a ban', () => {
    assert.equal(bannedUntil(failures(0, 40_000, 80_000, 120_000), 120_001), null);
  });

  it('after a ban the count starts afresh', () => {
    const after = recordFailure(failures(0, 1, 2), 302_001, policy);
    assert.equal(bannedUntil(after, 302_002), null);
    assert.deepEqual(after.failedAt, [302_001]);
  });

  it('a record stops mattering once its failures and its ban are behind it', () => {
    assert.equal(isLive(failures(0), 59_999, policy), true);
    assert.equal(isLive(failures(0), 60_000, policy), false);
    assert.equal(isLive(failures(0, 1, 2), 200_000, policy), true);
  });
});
