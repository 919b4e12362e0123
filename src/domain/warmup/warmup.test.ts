import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandRamp, utcDay, WarmupSchema, warmupPlan, warmupStanding } from './warmup.js';

const origin = { file: 'shaping.yaml', line: 4 };
const at = (date: string, time = '12:00:00') => Date.parse(`${date}T${time}Z`);

describe('warm-up', () => {
  const plan = warmupPlan(
    'mta3',
    WarmupSchema.parse({
      start: '2026-11-20',
      daily: { default: [50, 100, 200], google: { from: 10, to: 1000, days: 3 } },
    }),
    origin,
  );

  it('counts days from the start date in UTC, day 1 being the start', () => {
    assert.deepEqual(warmupStanding(plan, undefined, at('2026-11-20', '00:00:00')), {
      day: 1,
      days: 3,
      cap: 50,
      schedule: 'default',
    });
    assert.equal(warmupStanding(plan, undefined, at('2026-11-21', '23:59:59')).cap, 100);
    assert.equal(utcDay(at('2026-11-21', '23:59:59')) + 1, utcDay(at('2026-11-22', '00:00:00')));
  });

  it("uses the provider's own schedule where it has one, default elsewhere", () => {
    assert.equal(warmupStanding(plan, 'google', at('2026-11-21')).cap, 100);
    assert.equal(warmupStanding(plan, 'google', at('2026-11-21')).schedule, 'google');
    assert.equal(warmupStanding(plan, 'yahoo', at('2026-11-21')).schedule, 'default');
  });

  it('sends nothing before the start and has no cap after the last day', () => {
    assert.equal(warmupStanding(plan, undefined, at('2026-11-19')).cap, 0);
    assert.equal(warmupStanding(plan, undefined, at('2026-11-22')).cap, 200);
    assert.equal(warmupStanding(plan, undefined, at('2026-11-23')).cap, null);
  });

  it('without a schedule for the site, a source has no cap', () => {
    const googleOnly = warmupPlan(
      'mta4',
      WarmupSchema.parse({ start: '2026-11-20', daily: { google: [5] } }),
      origin,
    );
    assert.equal(warmupStanding(googleOnly, 'yahoo', at('2026-11-20')).cap, null);
    assert.equal(warmupStanding(googleOnly, 'google', at('2026-11-20')).cap, 5);
  });

  it('a ramp goes geometrically from its first to its last day', () => {
    assert.deepEqual(expandRamp(10, 1000, 3), [10, 100, 1000]);
    const month = expandRamp(50, 100_000, 30);
    assert.equal(month.length, 30);
    assert.equal(month[0], 50);
    assert.equal(month[29], 100_000);
    for (let i = 1; i < month.length; i++) assert.ok((month[i] ?? 0) > (month[i - 1] ?? 0));
  });

  it('rejects a bad date, an empty schedule and a ramp that goes down', () => {
    assert.equal(
      WarmupSchema.safeParse({ start: '2026-13-40', daily: { default: [1] } }).success,
      false,
    );
    assert.equal(
      WarmupSchema.safeParse({ start: '2026-11-20', daily: { default: [] } }).success,
      false,
    );
    assert.equal(WarmupSchema.safeParse({ start: '2026-11-20', daily: {} }).success, false);
    assert.equal(
      WarmupSchema.safeParse({
        start: '2026-11-20',
        daily: { default: { from: 9, to: 1, days: 3 } },
      }).success,
      false,
    );
  });
});
