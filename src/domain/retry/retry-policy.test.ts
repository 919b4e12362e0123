import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextAttemptAt, type RetryPolicy } from './retry-policy.js';

const MIN = 60_000;
const policy: RetryPolicy = {
  scheduleMs: [5 * MIN, 10 * MIN, 20 * MIN],
  maxAgeMs: 600 * MIN,
  jitter: 0,
};

describe('nextAttemptAt', () => {
  it('follows the schedule and repeats its last step', () => {
    const waits = [1, 2, 3, 4, 5].map((n) => (nextAttemptAt(policy, n, 0, 0, 0) as number) / MIN);
    assert.deepEqual(waits, [5, 10, 20, 20, 20]);
  });

  it('never waits less than the schedule, whatever the jitter', () => {
    const jittery = { ...policy, jitter: 0.2 };
    for (const r of [0, 0.5, 0.999]) {
      const at = nextAttemptAt(jittery, 1, 0, 0, r) as number;
      assert.ok(at >= 5 * MIN && at <= 6 * MIN, String(at));
    }
  });

  it('makes the last try at the expiry time, then gives up', () => {
    assert.equal(nextAttemptAt(policy, 3, 590 * MIN, 0, 0), 600 * MIN);
    assert.equal(nextAttemptAt(policy, 4, 600 * MIN, 0, 0), null);
  });
});
