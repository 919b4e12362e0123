import { type Transferable, Worker } from 'node:worker_threads';

/**
 * Starts a worker thread running a TypeScript module, and resolves once it posts 'ready'.
 * The module gets `data` as its workerData (plus `entry`, its own URL). `threadName` (15
 * bytes at most) is the thread's name to the kernel, on Linux.
 */
export const startTypeScriptWorker = (
  entry: URL,
  threadName: string,
  data: Record<string, unknown>,
  transferList: readonly Transferable[] = [],
): Promise<Worker> =>
  new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./typescript-worker-entry.mjs', import.meta.url), {
      workerData: { ...data, entry: entry.href, threadName },
      transferList: [...transferList],
    });
    const onError = (error: Error) => reject(error);
    const onExit = (code: number) =>
      reject(new Error(`worker ${entry.pathname} exited (${code}) before it was ready`));
    worker.once('error', onError);
    worker.once('exit', onExit);
    worker.once('message', (message) => {
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (message === 'ready') resolve(worker);
      else reject(new Error(`worker ${entry.pathname} said ${String(message)}`));
    });
  });
