import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rememberedLookup } from './lookup-cache.js';

/** A lookup over a table the test changes, counting its reads. */
const table = (rows: Record<string, string>) => {
  let reads = 0;
  return {
    rows,
    reads: () => reads,
    lookup: (key: string): string | null => {
      reads++;
      return rows[key] ?? null;
    },
  };
};

describe('rememberedLookup', () => {
  it('reads a hit once, and again after forget()', () => {
    const t = table({ k1: 'cred-1' });
    const cache = rememberedLookup(t.lookup);
    assert.equal(cache.get('k1'), 'cred-1');
    t.rows.k1 = 'changed';
    assert.equal(cache.get('k1'), 'cred-1');
    assert.equal(t.reads(), 1);
    cache.forget();
    assert.equal(cache.get('k1'), 'changed');
    assert.equal(t.reads(), 2);
  });

  it('does not remember a miss: a key added later is found at once', () => {
    const t = table({});
    const cache = rememberedLookup(t.lookup);
    assert.equal(cache.get('new'), null);
    t.rows.new = 'cred-2';
    assert.equal(cache.get('new'), 'cred-2');
  });

  it('starts over past its bound rather than grow', () => {
    const t = table({ a: '1', b: '2', c: '3' });
    const cache = rememberedLookup(t.lookup, 2);
    for (const key of ['a', 'b', 'c', 'a']) cache.get(key);
    // 'c' found the cache full and cleared it, so 'a' was read a second time.
    assert.equal(t.reads(), 4);
  });
});
