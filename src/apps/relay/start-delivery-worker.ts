import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { startServiceWorker } from './service-worker.js';
import type { WindowRow } from './throttle-windows.js';

/** Starts the delivery service on its own thread and resolves once it has caught up. */
export const startDeliveryWorker = async (
  config: Config,
  writer: MessagePort | undefined,
  log: Logger,
) => {
  const { worker, stop } = await startServiceWorker(
    new URL('./delivery-worker.ts', import.meta.url),
    'delivery',
    config,
    writer,
    log,
  );
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
    stop,
  };
};
