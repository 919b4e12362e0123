import { startRequestThread } from '../threads/request-thread.js';
import { type MimeFields, mimeFields } from './compose-mime.js';
import type { ComposeRequest, ComposeResult } from './composer-protocol.js';

export interface MimeComposer {
  /** The RFC 5322 message for an API submission (see composeMime), built on another thread. */
  compose(fields: MimeFields, messageIdHeader: string, date: Date): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * Composes API messages on a thread of their own (`mt-composer`). Composition is the front
 * door's largest CPU cost per message (MailComposer's tree, header encoding, base64 of
 * attachments), and on the main thread it would hold up every SMTP session and HTTP request
 * while it runs. A thread that dies fails what it was composing (those requests get an
 * error, nothing was accepted) and the next request starts a new one.
 */
export const startComposerThread = async (): Promise<MimeComposer> => {
  const thread = await startRequestThread<ComposeRequest, ComposeResult>(
    new URL('./composer-thread-entry.ts', import.meta.url),
    'mt-composer',
    'the MIME composer',
  );
  return {
    compose: async (fields, messageIdHeader, date) => {
      const bytes = await thread.request({
        // Only what composition reads crosses.
        fields: mimeFields(fields),
        messageIdHeader,
        date: date.getTime(),
      });
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    close: thread.close,
  };
};
