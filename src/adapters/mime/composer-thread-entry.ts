/**
 * Worker-thread entry of the MIME composer: composes what the main thread sends, a batch at
 * a time, and hands each message's bytes back without a copy.
 */
import { parentPort } from 'node:worker_threads';
import { composeMime } from './compose-mime.js';
import type { ComposeReply, ComposeRequest } from './composer-protocol.js';

// Structured clone delivers Buffers as plain Uint8Arrays: composition wants Buffers back.
const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

// Small Buffers share Node's 8 KB pool: moving the pool would break the buffers left in it,
// so those are copied once into an ArrayBuffer of their own, which can then be moved.
const ownArrayBuffer = (bytes: Buffer): Uint8Array =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? new Uint8Array(bytes.buffer)
    : new Uint8Array(bytes);

const composeOne = async (request: ComposeRequest): Promise<ComposeReply> => {
  try {
    const { fields } = request;
    const bytes = await composeMime(
      {
        ...fields,
        attachments: fields.attachments.map((a) => ({ ...a, content: asBuffer(a.content) })),
      },
      request.messageIdHeader,
      new Date(request.date),
    );
    return { id: request.id, ok: true, bytes: ownArrayBuffer(bytes) };
  } catch (error) {
    return {
      id: request.id,
      ok: false,
      error: error instanceof Error ? error.message : String(error),
    };
  }
};

parentPort?.on('message', async (batch: readonly ComposeRequest[]) => {
  const replies = await Promise.all(batch.map(composeOne));
  const transfer = replies.flatMap((r) => (r.ok ? [r.bytes.buffer as ArrayBuffer] : []));
  parentPort?.postMessage(replies, transfer);
});
parentPort?.postMessage('ready');
