import type { EventEmitter } from 'node:events';

/** Resolves on the next emitted event, after `timeoutMs`, or when the signal aborts. */
export const waitForChange = (
  emitter: EventEmitter,
  eventName: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      emitter.off(eventName, done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    emitter.once(eventName, done);
    signal?.addEventListener('abort', done, { once: true });
  });
