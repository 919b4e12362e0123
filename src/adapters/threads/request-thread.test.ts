import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EchoRequest } from './echo-thread.fixture.js';
import { startRequestThread } from './request-thread.js';
import { spreadRequests } from './spread-requests.js';

const ECHO = new URL('./echo-thread.fixture.ts', import.meta.url);
const startEcho = () => startRequestThread<EchoRequest, string>(ECHO, 'mt-test-echo', 'the echo');
type Echo = Awaited<ReturnType<typeof startEcho>>;

/** A fresh echo thread for one test, closed after it. */
const withEcho = async (use: (thread: Echo) => Promise<void>): Promise<void> => {
  const thread = await startEcho();
  try {
    await use(thread);
  } finally {
    await thread.close();
  }
};

describe('startRequestThread: CPU-bound requests answered on another thread', () => {
  it('answers each of many requests made at once with its own result', () =>
    withEcho(async (thread) => {
      const asked = Array.from({ length: 500 }, (_, i) => `request ${i}`);
      assert.deepEqual(
        await Promise.all(asked.map((r) => thread.request(r))),
        asked.map((r) => r.toUpperCase()),
      );
    }));

  it('fails only the request that throws, with its reason', () =>
    withEcho(async (thread) => {
      const [bad, good] = await Promise.allSettled([
        thread.request('throw'),
        thread.request('fine'),
      ]);
      assert.equal(bad.status, 'rejected');
      assert.match(String((bad as PromiseRejectedResult).reason), /asked to throw/);
      assert.deepEqual(good, { status: 'fulfilled', value: 'FINE' });
    }));

  it('fails only a request that cannot cross to the thread, rather than leave it waiting', () =>
    withEcho(async (thread) => {
      // Made in one turn, so they would cross together.
      const [bad, good] = await Promise.allSettled([
        thread.request((() => 'x') as unknown as EchoRequest),
        thread.request('same turn'),
      ]);
      assert.equal(bad.status, 'rejected');
      assert.match(String((bad as PromiseRejectedResult).reason), /could not be cloned/);
      assert.deepEqual(good, { status: 'fulfilled', value: 'SAME TURN' });
      assert.equal(await thread.request('after'), 'AFTER');
    }));

  it('fails what a dying thread held, answers on a new thread after, refuses once closed', async () => {
    const thread = await startEcho();
    try {
      const held = ['a', 'die', 'b'].map((r) => thread.request(r));
      for (const request of held) await assert.rejects(request, /echo thread exited \(3\)/);
      assert.equal(await thread.request('next'), 'NEXT');
    } finally {
      await thread.close();
    }
    await assert.rejects(thread.request('late'), /the echo is closed/);
  });
});

describe('spreadRequests: several request threads as one', () => {
  // Routed to the held thread, a request would wait for ever: the timeout fails it instead.
  it('sends new requests to a thread that is free while another is held up', {
    timeout: 10_000,
  }, async () => {
    const threads = [await startEcho(), await startEcho()];
    const spread = spreadRequests(threads);
    try {
      const hold = new Int32Array(new SharedArrayBuffer(4));
      const held = spread.request({ hold });
      // Each of these would wait behind the held request on its thread.
      for (let i = 0; i < 10; i++) assert.equal(await spread.request(`free ${i}`), `FREE ${i}`);
      Atomics.store(hold, 0, 1);
      Atomics.notify(hold, 0);
      assert.equal(await held, 'RELEASED');
    } finally {
      await spread.close();
    }
    await assert.rejects(threads[1]?.request('late') ?? Promise.resolve(), /closed/);
  });
});
