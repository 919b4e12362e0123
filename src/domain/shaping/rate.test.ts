import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GCRA_START, type GcraState, gcra, parseRate } from './rate.js';

describe('rates', () => {
  it('reads N/s, N/m, N/h, N/d and refuses anything else', () => {
    assert.deepEqual(parseRate('100/s'), { count: 100, perMs: 1000, text: '100/s' });
    assert.deepEqual(parseRate(' 3000 / m'), { count: 3000, perMs: 60_000, text: '3000/m' });
    assert.equal(parseRate('10/h')?.perMs, 3_600_000);
    assert.equal(parseRate('5/d')?.perMs, 86_400_000);
    for (const bad of ['100', '0/s', '-1/s', '10/w', 'fast', '10/ss'])
      assert.equal(parseRate(bad), undefined, bad);
  });
});

describe('GCRA', () => {
  it('spaces events evenly and says when the next one may go', () => {
    const rate = parseRate('10/s')!;
    let state: GcraState = GCRA_START;
    const first = gcra(state, rate, 1000);
    assert.equal(first.allowed, true);
    state = first.state;
    const early = gcra(state, rate, 1050);
    assert.deepEqual(early.allowed, false);
    assert.equal(early.allowed === false && early.retryAt, 1100);
    assert.equal(gcra(state, rate, 1100).allowed, true);
  });

  it('never lets any window see more than its share, however the attempts arrive', () => {
    const rate = parseRate('50/s')!;
    let seed = 11;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    let state: GcraState = GCRA_START;
    const sent: number[] = [];
    let now = 0;
    for (let i = 0; i < 20_000; i++) {
      // Bursts of attempts, then pauses: the worst case for a limiter that saves up.
      now += random() < 0.9 ? random() * 2 : random() * 500;
      const d = gcra(state, rate, now);
      state = d.state;
      if (d.allowed) sent.push(now);
    }
    for (const windowMs of [20, 100, 1000, 5000]) {
      const share = Math.floor((windowMs * rate.count) / rate.perMs) + 1;
      let worst = 0;
      for (let i = 0, j = 0; i < sent.length; i++) {
        while ((sent[i] as number) - (sent[j] as number) >= windowMs) j++;
        worst = Math.max(worst, i - j + 1);
      }
      assert.ok(worst <= share, `${worst} events in ${windowMs} ms, at most ${share} allowed`);
    }
    assert.ok(sent.length > 1000, 'and it does let traffic through');
  });
});
