/**
 * Worker-thread entry of the MIME composer: composes what the main thread sends and hands
 * each message's bytes back without a copy.
 */
import { serveRequests } from '../threads/serve-requests.js';
import { composeMime } from './compose-mime.js';
import type { ComposeRequest, ComposeResult } from './composer-protocol.js';

// Structured clone delivers Buffers as plain Uint8Arrays: composition wants Buffers back.
const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

// Small Buffers share Node's 8 KB pool: moving the pool would break the buffers left in it,
// so those are copied once into an ArrayBuffer of their own, which can then be moved.
const ownArrayBuffer = (bytes: Buffer): Uint8Array =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? new Uint8Array(bytes.buffer)
    : new Uint8Array(bytes);

const compose = async ({ fields, messageIdHeader, date }: ComposeRequest): Promise<ComposeResult> =>
  ownArrayBuffer(
    await composeMime(
      {
        ...fields,
        attachments: fields.attachments.map((a) => ({ ...a, content: asBuffer(a.content) })),
      },
      messageIdHeader,
      new Date(date),
    ),
  );

serveRequests(compose, (bytes) => [bytes.buffer as ArrayBuffer]);
