/**
 * The thread side of a request thread (see request-thread.ts): answers each batch the
 * calling thread sends with one message of replies, in the same order.
 */
import { parentPort, type Transferable } from 'node:worker_threads';
import type { ThreadReply, ThreadRequest } from './request-protocol.js';

const answer = async <Request, Result>(
  { id, request }: ThreadRequest<Request>,
  handle: (request: Request) => Result | Promise<Result>,
): Promise<ThreadReply<Result>> => {
  try {
    return { id, ok: true, result: await handle(request) };
  } catch (error) {
    return { id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
};

export const serveRequests = <Request, Result>(
  handle: (request: Request) => Result | Promise<Result>,
  /** What of a result is moved back rather than copied (e.g. the ArrayBuffer of its bytes). */
  transferablesOf: (result: Result) => readonly Transferable[] = () => [],
): void => {
  parentPort?.on('message', async (batch: readonly ThreadRequest<Request>[]) => {
    const replies = await Promise.all(batch.map((request) => answer(request, handle)));
    const transfer = replies.flatMap((r) => (r.ok ? transferablesOf(r.result) : []));
    parentPort?.postMessage(replies, [...transfer]);
  });
  parentPort?.postMessage('ready');
};
