import type { Mailbox } from '../../domain/address/mailbox.js';
import type { AuthenticatedCredential, SubmissionObjection } from '../smtp-in/submission-port.js';

export interface ApiAttachment {
  readonly filename: string;
  readonly contentType: string | null;
  readonly content: Buffer;
  /** Set for inline parts: the HTML refers to them as `cid:<contentId>`. */
  readonly contentId: string | null;
}

/** Which parts' links go through the click redirect. */
export interface LinkTracking {
  readonly html: boolean;
  readonly text: boolean;
}

/** What every front door may ask of a message besides its content. */
export interface ApiOptions {
  readonly tags: readonly string[];
  /** Custom data (`v:`, `custom_args`, `Metadata`), carried on the events for webhooks. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Hold until then (epoch ms); null: now. */
  readonly sendAt: number | null;
  /** Accept and record, never deliver. */
  readonly testMode: boolean;
  /** Deliver only over TLS, whatever the site's TLS policy, with a verified certificate. */
  readonly requireTls: boolean;
  /** Where TLS is required, accept any certificate. */
  readonly skipTlsVerification: boolean;
  /** Open and click tracking; null: the credential's default (off). */
  readonly trackOpens: boolean | null;
  readonly trackLinks: LinkTracking | null;
  /** The provider's message stream it names (Postmark's MessageStream); null: none. */
  readonly stream: string | null;
}

/** A message the API builds from fields (MIME is composed by mailtrail). */
export interface ComposedApiMessage extends ApiOptions {
  readonly kind: 'fields';
  readonly from: Mailbox;
  readonly to: readonly Mailbox[];
  readonly cc: readonly Mailbox[];
  readonly bcc: readonly Mailbox[];
  readonly replyTo: readonly Mailbox[];
  readonly subject: string | null;
  readonly text: string | null;
  readonly html: string | null;
  readonly ampHtml: string | null;
  /** Extra header fields, in order; names and values already checked (no CR or LF). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly attachments: readonly ApiAttachment[];
  /** The Message-ID to give it (angle brackets included); null: the relay picks one. */
  readonly messageIdHeader: string | null;
}

/** A message the client built itself (Mailgun's messages.mime): sent as given. */
export interface MimeApiMessage extends ApiOptions {
  readonly kind: 'mime';
  readonly mime: Buffer;
  /** Every recipient, To, Cc and Bcc alike: the envelope. */
  readonly to: readonly Mailbox[];
}

export type ApiMessage = ComposedApiMessage | MimeApiMessage;

export type ApiSource = 'mailgun' | 'sendgrid' | 'postmark';

export type ApiSubmitResult =
  | {
      readonly ok: true;
      readonly messageId: string;
      /** The Message-ID header the message went out with (angle brackets included). */
      readonly messageIdHeader: string;
      /** Recipients on a suppression list: recorded, never sent to. */
      readonly suppressed: readonly string[];
    }
  | {
      readonly ok: false;
      /** Stable codes the fronts map to their provider's errors. */
      readonly code: SubmissionObjection['code'] | 'TooLarge' | 'InvalidText';
      readonly message: string;
      /** For a deferral: when it would fit again (epoch ms); null: not by waiting. */
      readonly retryAt?: number | null;
      /** For a volume cap: whether messages or recipients reached it. */
      readonly measure?: 'messages' | 'recipients' | null;
    };

/** What the HTTP fronts need from the application: check a key, take messages. */
export interface ApiSubmissionPort {
  /**
   * The credential an API key belongs to; null for an unknown or revoked key, or a client
   * outside the credential's allowed networks.
   */
  authenticateKey(key: string, clientAddress: string): AuthenticatedCredential | null;
  /** The credential's sending domains (Mailgun's URL names one). */
  domainsOf(credential: AuthenticatedCredential): readonly string[];
  /**
   * Stores each message durably (one result per message, in order) before resolving: the
   * client hears 200 only after. One request's messages share `batchId`. `whole`: any
   * refusal refuses them all and nothing is stored (a Mailgun or SendGrid request);
   * `each`: every message stands alone (a Postmark batch).
   */
  submit(
    request: {
      readonly source: ApiSource;
      readonly credential: AuthenticatedCredential;
      readonly clientAddress: string;
      readonly batchId: string;
    },
    messages: readonly ApiMessage[],
    mode?: 'whole' | 'each',
  ): Promise<ApiSubmitResult[]>;
}
