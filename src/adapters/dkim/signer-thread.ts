import { startRequestThread } from '../threads/request-thread.js';
import type { SignedHeaders, SigningKey } from './dkim-signer.js';
import type { SignRequest, SignResult } from './signer-protocol.js';

export interface DkimSigner {
  /** signMessage, on the signer thread. */
  sign(message: Buffer, keys: readonly SigningKey[], at: number): Promise<SignedHeaders>;
  close(): Promise<void>;
}

/**
 * Signs messages on a thread of their own (`mt-signer`): canonicalization, body hash and
 * every signature of a message in one synchronous call there, one crossing each way for all
 * the messages of a turn of the event loop. Signing on libuv's pool instead cost a
 * hand-off per signature and left the canonicalization (about 0.1 ms a message) on the
 * thread that answers clients. A thread that dies fails what it was signing (nothing of
 * those was accepted) and the next request starts a new one.
 */
export const startSignerThread = async (
  /** The thread's module; tests give one that can be made to die. */
  entry = new URL('./signer-thread-entry.ts', import.meta.url),
): Promise<DkimSigner> => {
  const thread = await startRequestThread<SignRequest, SignResult>(
    entry,
    'mt-signer',
    'the DKIM signer',
  );
  return {
    // The message is copied across: the caller goes on to store these very bytes.
    sign: (message, keys, at) => thread.request({ message, keys, at }),
    close: thread.close,
  };
};
