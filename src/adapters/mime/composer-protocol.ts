import type { MimeFields } from './compose-mime.js';

/** One message to compose, as it crosses to the composer thread. */
export interface ComposeRequest {
  readonly fields: MimeFields;
  readonly messageIdHeader: string;
  /** The Date: header's time, epoch ms. */
  readonly date: number;
}

/** The composed message's bytes, moved back rather than copied. */
export type ComposeResult = Uint8Array;
