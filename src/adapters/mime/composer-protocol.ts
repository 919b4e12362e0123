import type { MimeFields } from './compose-mime.js';

/** One message to compose, as it crosses to the composer thread. */
export interface ComposeRequest {
  readonly id: number;
  readonly fields: MimeFields;
  readonly messageIdHeader: string;
  /** The Date: header's time, epoch ms. */
  readonly date: number;
}

/** Its answer: the message's bytes (moved, not copied), or why composition failed. */
export type ComposeReply =
  | { readonly id: number; readonly ok: true; readonly bytes: Uint8Array }
  | { readonly id: number; readonly ok: false; readonly error: string };
