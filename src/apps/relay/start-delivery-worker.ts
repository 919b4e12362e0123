import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { startTypeScriptWorker } from '../../adapters/threads/typescript-worker.js';
import type { Config } from '../config/schema.js';
import type { WindowRow } from './throttle-windows.js';

/** Starts the delivery service on its own thread and resolves once it has caught up. */
export const startDeliveryWorker = async (config: Config, writer: MessagePort, log: Logger) => {
  const worker = await startTypeScriptWorker(
    new URL('./delivery-worker.ts', import.meta.url),
    { config, writer },
    [writer],
  );
  let stopping = false;
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
  let nextId = 0;
  return {
    /** The delivery thread's live throttle windows. */
    throttleWindows: (): Promise<WindowRow[]> =>
      new Promise((resolve) => {
        const id = ++nextId;
        const onMessage = (message: { throttleWindows?: number; rows?: WindowRow[] }) => {
          if (message?.throttleWindows !== id) return;
          worker.off('message', onMessage);
          resolve(message.rows ?? []);
        };
        worker.on('message', onMessage);
        worker.postMessage({ throttleWindows: id });
      }),
    stop: async () => {
      stopping = true;
      const stopped = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      await stopped;
    },
  };
};
