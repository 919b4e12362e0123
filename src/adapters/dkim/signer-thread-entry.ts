/** Worker-thread entry of the DKIM signer: signs what the main thread sends, synchronously. */
import { serveRequests } from '../threads/serve-requests.js';
import { signMessage } from './dkim-signer.js';
import type { SignRequest, SignResult } from './signer-protocol.js';

serveRequests<SignRequest, SignResult>(({ message, keys, at }) =>
  // Structured clone delivers a Buffer as a plain Uint8Array.
  signMessage(Buffer.from(message.buffer, message.byteOffset, message.byteLength), keys, at),
);
