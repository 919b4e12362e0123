import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';

/**
 * Starts the delivery service on its own thread and resolves once it has caught up.
 */
export const startDeliveryWorker = async (config: Config, log: Logger) => {
  const worker = new Worker(new URL('./typescript-worker.mjs', import.meta.url), {
    workerData: { config, entry: new URL('./delivery-worker.ts', import.meta.url).href },
  });
  let stopping = false;
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m) =>
      m === 'ready' ? resolve() : reject(new Error(`delivery worker said ${m}`)),
    );
    worker.once('error', reject);
  });
  // A delivery thread that dies leaves mail undelivered: stop the whole relay so a
  // supervisor restarts it, rather than keep accepting mail nobody delivers.
  worker.on('error', (error) => {
    log.fatal({ err: error }, 'delivery worker failed');
    process.exit(1);
  });
  worker.on('exit', (code) => {
    if (!stopping) {
      log.fatal({ code }, 'delivery worker exited');
      process.exit(1);
    }
  });
  return {
    stop: async () => {
      stopping = true;
      const stopped = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      await stopped;
    },
  };
};
