// The composer thread of composer-thread.test.ts, which dies (exit code 3) when it is sent a
// message whose subject is 'die'.
import { parentPort } from 'node:worker_threads';
import type { ComposeRequest } from './composer-protocol.js';

parentPort?.on('message', (batch: readonly ComposeRequest[]) => {
  if (batch.some((r) => r.fields.subject === 'die')) process.exit(3);
});
await import('./composer-thread-entry.js');
