import {
  type GlobalPosition,
  isEventStoreError,
  type SubscriptionItem,
} from '../../domain/event-store/event-store.js';

export interface ResumeOptions {
  readonly after?: GlobalPosition | undefined;
  readonly signal?: AbortSignal | undefined;
  /** The first wait after a failure; it doubles up to `maxWaitMs`, and resets on progress. */
  readonly firstWaitMs?: number;
  readonly maxWaitMs?: number;
  readonly onRetry?: (error: unknown, waitMs: number) => void;
}

const pause = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * A subscription that outlives the store's node failures: when `open` fails with
 * StoreUnavailable (a node down, a leader election, the network) or ends without being
 * asked to, it is opened again after the last position it delivered, so the consumer sees
 * each event once and in order, however often the connection drops. Other errors end it.
 * Only the first `caughtUp` is passed on; later ones are checkpoints.
 */
export async function* resumable(
  open: (after: GlobalPosition | undefined) => AsyncIterable<SubscriptionItem>,
  options: ResumeOptions = {},
): AsyncIterable<SubscriptionItem> {
  const { signal } = options;
  const firstWait = options.firstWaitMs ?? 250;
  const maxWait = options.maxWaitMs ?? 5000;
  let last = options.after;
  let caughtUp = false;
  let wait = firstWait;
  while (!signal?.aborted) {
    try {
      for await (const item of open(last)) {
        if (signal?.aborted) return;
        wait = firstWait;
        if (item.kind === 'event') {
          if (last !== undefined && item.event.position <= last) continue;
          last = item.event.position;
          yield item;
        } else if (item.kind === 'caughtUp' && !caughtUp) {
          caughtUp = true;
          yield item;
        } else yield { kind: 'checkpoint', position: item.position };
      }
      if (signal?.aborted) return;
    } catch (error) {
      if (signal?.aborted) return;
      if (!isEventStoreError(error, 'StoreUnavailable')) throw error;
      options.onRetry?.(error, wait);
    }
    await pause(wait, signal);
    wait = Math.min(wait * 2, maxWait);
  }
}
