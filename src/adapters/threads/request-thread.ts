import type { Worker } from 'node:worker_threads';
import type { ThreadReply, ThreadRequest } from './request-protocol.js';
import { startTypeScriptWorker } from './typescript-worker.js';

export interface RequestThread<Request, Result> {
  /** The thread's answer to one request, or its error. */
  request(request: Request): Promise<Result>;
  /** Stops the thread; what still waits, and every later request, is refused. */
  close(): Promise<void>;
}

interface Waiting<Result> {
  readonly resolve: (result: Result) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A worker thread that takes CPU-bound requests off the calling thread (which answers every
 * SMTP session and HTTP request). The entry module answers with `serveRequests`.
 * Requests made in the same turn of the event loop cross together, as one message each way:
 * under load a handful of requests share each wake-up of either thread.
 * A request that fails fails alone; a thread that dies fails what it held, and the next
 * request starts a new one.
 */
export const startRequestThread = async <Request, Result>(
  entry: URL,
  /** The thread's name to the kernel (15 bytes at most), as `top -H` shows it. */
  threadName: string,
  /** What the thread is, in errors: "the MIME composer". */
  label: string,
): Promise<RequestThread<Request, Result>> => {
  let worker: Promise<Worker> | null = null;
  let closing = false;
  const waiting = new Map<number, Waiting<Result>>();
  let queued: ThreadRequest<Request>[] = [];
  let nextId = 0;

  const failAll = (error: Error): void => {
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
  };
  const onReplies = (replies: readonly ThreadReply<Result>[]): void => {
    for (const reply of replies) {
      const w = waiting.get(reply.id);
      if (!w) continue;
      waiting.delete(reply.id);
      if (reply.ok) w.resolve(reply.result);
      else w.reject(new Error(reply.error));
    }
  };
  const running = (): Promise<Worker> => {
    if (worker) return worker;
    const started = startTypeScriptWorker(entry, threadName, {});
    worker = started;
    started.then(
      (w) => {
        w.on('message', onReplies);
        w.on('error', (error) => failAll(error));
        w.on('exit', (code) => {
          if (worker === started) worker = null;
          if (!closing) failAll(new Error(`${label} thread exited (${code})`));
        });
      },
      (error: Error) => {
        if (worker === started) worker = null;
        failAll(error);
      },
    );
    return started;
  };
  const send = (): void => {
    const batch = queued;
    queued = [];
    running().then(
      (w) => {
        try {
          w.postMessage(batch);
        } catch {
          // Something in a request that cannot be copied to another thread (a bug upstream):
          // the batch goes again one request at a time, so only that one fails rather than
          // being left waiting, and the others of its turn go through.
          for (const r of batch) {
            try {
              w.postMessage([r]);
            } catch (error) {
              onReplies([{ id: r.id, ok: false, error: String(error) }]);
            }
          }
        }
      },
      () => {}, // failAll has answered them
    );
  };

  await running();
  return {
    request: (request) =>
      new Promise((resolve, reject) => {
        if (closing) return reject(new Error(`${label} is closed`));
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        if (queued.length === 0) setImmediate(send);
        queued.push({ id, request });
      }),
    close: async () => {
      closing = true;
      const w = await worker?.catch(() => null);
      await w?.terminate();
      failAll(new Error(`${label} is closed`));
    },
  };
};
