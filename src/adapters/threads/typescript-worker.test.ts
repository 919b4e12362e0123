import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startTypeScriptWorker } from './typescript-worker.js';

describe('startTypeScriptWorker', () => {
  it('names the thread for the kernel, so top -H and the benches can tell the threads apart', {
    skip: existsSync('/proc/thread-self/comm') ? false : 'no /proc/thread-self (not Linux)',
  }, async () => {
    const worker = await startTypeScriptWorker(
      new URL('./thread-name-probe.fixture.ts', import.meta.url),
      'mt-probe-thread-long-name',
      {},
    );
    try {
      const name = new Promise((resolve) => worker.once('message', resolve));
      worker.postMessage('name?');
      // Linux keeps 15 bytes of a thread's name.
      assert.equal(await name, 'mt-probe-thread');
    } finally {
      await worker.terminate();
    }
  });
});
