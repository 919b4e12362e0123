// A worker module for typescript-worker.test.ts: says ready, then answers any message with
// the name the kernel has for its thread.
import { readFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', () =>
  parentPort?.postMessage(readFileSync('/proc/thread-self/comm', 'utf8').trim()),
);
parentPort?.postMessage('ready');
