import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/**
 * Random numbers in [0, 1) from a pooled buffer. ulid's default PRNG asks the OS for one
 * byte per character (16 calls per id); this asks once per 4 KiB.
 */
const pooledPrng = (): (() => number) => {
  const pool = new Uint8Array(4096);
  let next = pool.length;
  return () => {
    if (next >= pool.length) {
      randomFillSync(pool);
      next = 0;
    }
    return (pool[next++] as number) / 256;
  };
};

/** Message ids: ULIDs, sortable by acceptance time, monotonic within a millisecond. */
export const createMessageIdFactory = (): (() => string) => {
  const ulid = monotonicFactory(pooledPrng());
  return () => ulid();
};
