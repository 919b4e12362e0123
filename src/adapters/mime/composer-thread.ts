import type { Worker } from 'node:worker_threads';
import { startTypeScriptWorker } from '../threads/typescript-worker.js';
import { type MimeFields, mimeFields } from './compose-mime.js';
import type { ComposeReply, ComposeRequest } from './composer-protocol.js';

export interface MimeComposer {
  /** The RFC 5322 message for an API submission (see composeMime), built on another thread. */
  compose(fields: MimeFields, messageIdHeader: string, date: Date): Promise<Buffer>;
  close(): Promise<void>;
}

interface Waiting {
  readonly resolve: (bytes: Buffer) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Composes API messages on a thread of their own. Composition is the front door's largest
 * CPU cost per message (MailComposer's tree, header encoding, base64 of attachments), and
 * on the main thread it holds up every SMTP session and HTTP request while it runs.
 * Requests made in the same turn of the event loop cross together, as one message each way.
 * A thread that dies fails what it was composing (those requests get an error, nothing was
 * accepted) and the next request starts a new one.
 */
export const startComposerThread = async (
  /** The thread's module; tests give one that can be made to die. */
  entry = new URL('./composer-thread-entry.ts', import.meta.url),
): Promise<MimeComposer> => {
  const start = () => startTypeScriptWorker(entry, 'mt-composer', {});
  let worker: Promise<Worker> | null = null;
  let closing = false;
  const waiting = new Map<number, Waiting>();
  let queued: ComposeRequest[] = [];
  let nextId = 0;

  const failAll = (error: Error): void => {
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
  };
  const onReplies = (replies: readonly ComposeReply[]): void => {
    for (const reply of replies) {
      const w = waiting.get(reply.id);
      if (!w) continue;
      waiting.delete(reply.id);
      if (reply.ok)
        w.resolve(Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength));
      else w.reject(new Error(reply.error));
    }
  };
  const running = (): Promise<Worker> => {
    if (worker) return worker;
    const started = start();
    worker = started;
    started.then(
      (w) => {
        w.on('message', onReplies);
        w.on('error', (error) => failAll(error));
        w.on('exit', (code) => {
          if (worker === started) worker = null;
          if (!closing) failAll(new Error(`the MIME composer thread exited (${code})`));
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
        } catch (error) {
          // Something in a request that cannot be copied to another thread: a bug upstream,
          // answered as a failed composition rather than left hanging.
          onReplies(batch.map((r) => ({ id: r.id, ok: false, error: String(error) })));
        }
      },
      () => {}, // failAll has answered them
    );
  };

  await running();
  return {
    compose: (fields, messageIdHeader, date) =>
      new Promise((resolve, reject) => {
        if (closing) return reject(new Error('the MIME composer is closed'));
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        if (queued.length === 0) setImmediate(send);
        queued.push({ id, fields: mimeFields(fields), messageIdHeader, date: date.getTime() });
      }),
    close: async () => {
      closing = true;
      const w = await worker?.catch(() => null);
      await w?.terminate();
      failAll(new Error('the MIME composer is closed'));
    },
  };
};
