import type { MessagePort, Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { startTypeScriptWorker } from '../../adapters/threads/typescript-worker.js';
import type { Config } from '../config/schema.js';

/**
 * Starts one of the relay's back-half services (delivery, webhooks) on its own thread, with
 * its own port to the log writer, and resolves once it has caught up. A service thread that
 * dies stops the whole relay, so a supervisor restarts it, rather than keep accepting mail
 * whose delivery or notifications nobody carries out.
 */
export const startServiceWorker = async (
  entry: URL,
  name: string,
  config: Config,
  /** Its port to the SQLite writer thread; none with EventStoreDB. */
  writer: MessagePort | undefined,
  log: Logger,
): Promise<{ readonly worker: Worker; readonly stop: () => Promise<void> }> => {
  const worker = await startTypeScriptWorker(
    entry,
    `mt-${name}`.slice(0, 15),
    { config, writer },
    writer ? [writer] : [],
  );
  let stopping = false;
  worker.on('error', (error) => {
    log.fatal({ err: error }, `${name} worker failed`);
    process.exit(1);
  });
  worker.on('exit', (code) => {
    if (!stopping) {
      log.fatal({ code }, `${name} worker exited`);
      process.exit(1);
    }
  });
  return {
    worker,
    stop: async () => {
      stopping = true;
      const stopped = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      await stopped;
    },
  };
};
