import { resolve } from 'node:path';
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { startTypeScriptWorker } from '../../threads/typescript-worker.js';

export interface SqliteWriter {
  /** A port for one store instance (any thread) to send its appends on. */
  connect(): MessagePort;
  close(): Promise<void>;
}

/** Starts the writer thread for a log file; stores opened with one of its ports append there. */
export const startSqliteWriter = async (
  path: string,
  options: { groupCommitWindowMs?: number; onFailure?: (error: unknown) => void } = {},
): Promise<SqliteWriter> => {
  const worker: Worker = await startTypeScriptWorker(
    new URL('./writer-thread.ts', import.meta.url),
    'mt-log-writer',
    {
      path: resolve(path),
      windowMs: options.groupCommitWindowMs ?? 1,
    },
  );
  let closing = false;
  worker.on('error', (error) => options.onFailure?.(error));
  worker.on('exit', (code) => {
    if (!closing) options.onFailure?.(new Error(`the SQLite writer thread exited (${code})`));
  });
  return {
    connect: () => {
      const { port1, port2 } = new MessageChannel();
      worker.postMessage({ port: port2 }, [port2]);
      return port1;
    },
    close: async () => {
      closing = true;
      const exited = new Promise<void>((done) => worker.once('exit', () => done()));
      worker.postMessage({ close: true });
      await exited;
    },
  };
};
