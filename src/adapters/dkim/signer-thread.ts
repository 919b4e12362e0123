import { availableParallelism } from 'node:os';
import { startRequestThread } from '../threads/request-thread.js';
import { spreadRequests } from '../threads/spread-requests.js';
import type { SignedHeaders, SigningKey } from './dkim-signer.js';
import type { SignRequest, SignResult } from './signer-protocol.js';

export interface DkimSigner {
  /** signMessage, on the signer thread. */
  sign(message: Buffer, keys: readonly SigningKey[], at: number): Promise<SignedHeaders>;
  close(): Promise<void>;
}

// The size of libuv's pool, which made the signatures before there were signer threads.
const MAX_DEFAULT_THREADS = 4;

/** One signer thread per core beyond the first (the main thread's), at most 4. */
export const defaultSignerThreads = (): number =>
  Math.min(MAX_DEFAULT_THREADS, Math.max(1, availableParallelism() - 1));

/**
 * Signs messages on threads of their own (`mt-signer`): canonicalization, body hash and
 * every signature of a message in one synchronous call there, one crossing each way for all
 * the messages of a turn of the event loop. Signing on libuv's pool instead cost a
 * hand-off per signature and left the canonicalization (about 0.1 ms a message) on the
 * thread that answers clients. One thread signs about 2,000 small messages a second with
 * RSA-2048 and Ed25519 (`npm run bench:dkim`); more cores take more threads. A thread that dies fails what it was
 * signing (nothing of those was accepted) and its next request starts a new one.
 */
export const startSignerThreads = async (threads: number): Promise<DkimSigner> => {
  const starting = await Promise.allSettled(
    Array.from({ length: threads }, () =>
      startRequestThread<SignRequest, SignResult>(
        new URL('./signer-thread-entry.ts', import.meta.url),
        'mt-signer',
        'the DKIM signer',
      ),
    ),
  );
  const started = starting.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = starting.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((t) => t.close()));
    throw failed.reason;
  }
  const thread = spreadRequests(started);
  return {
    // The message is copied across: the caller goes on to store these very bytes.
    sign: (message, keys, at) => thread.request({ message, keys, at }),
    close: thread.close,
  };
};
