import { z } from 'zod';

/**
 * The message stream's events. Payloads are validated by these schemas at the store
 * boundary. Times are epoch milliseconds, given to the domain as values.
 */

export const SmtpReplySchema = z.object({
  code: z.number().int(),
  enhancedCode: z.string().nullable(),
  text: z.string(),
});

/**
 * Which queue an attempt went through: the destination site (`provider:gmail`) and the
 * egress source by name. Older events have neither.
 */
const routeFields = {
  site: z.string().nullable().default(null),
  source: z.string().nullable().default(null),
};

/** Where an attempt went: the remote MX and our side of the connection. */
export const RemoteSchema = z.object({
  mx: z.string().nullable(),
  ip: z.string().nullable(),
  sourceIp: z.string().nullable(),
  tls: z.boolean(),
  /**
   * Over TLS, with a certificate valid for the MX host's name from a trusted CA (Mailgun's
   * certificate-verified). Absent from events recorded before it was.
   */
  tlsVerified: z.boolean().optional(),
  /** The ESMTP extensions the remote advertised (accounting's dlvEsmtpAvailable). */
  esmtp: z.array(z.string()),
});

export const MessageAcceptedSchema = z.object({
  messageId: z.string().min(1),
  acceptedAt: z.number().int(),
  source: z.enum(['smtp', 'mailgun', 'sendgrid', 'postmark']),
  credential: z.object({ id: z.string(), name: z.string() }).nullable(),
  client: z.object({
    address: z.string(),
    helo: z.string().nullable(),
    tls: z.boolean(),
  }),
  envelope: z.object({
    /** '' is the null reverse-path `<>`. */
    from: z.string(),
    to: z
      .array(
        z.object({
          address: z.string().min(3),
          /** RFC 3461 ORCPT, kept for accounting. */
          orcpt: z.string().nullable(),
        }),
      )
      .min(1),
    envId: z.string().nullable(),
  }),
  headers: z.object({
    messageId: z.string().nullable(),
    subject: z.string().nullable(),
    from: z.string().nullable(),
  }),
  size: z.number().int().nonnegative(),
  bodyRef: z.string(),
  jobId: z.string().nullable(),
  /**
   * transactional mail never waits behind bulk mail for the same site. Older events have
   * no lane: they read as transactional.
   */
  lane: z.enum(['transactional', 'bulk']).default('transactional'),
  /** The egress pool chosen at acceptance (header, else credential); null: the default. */
  pool: z.string().nullable().default(null),
  /**
   * Where bounces come back: the onboarded sending domain's return-path domain
   * (`bounces.<domain>`); each recipient then gets its own VERP return path. null: the
   * sender's own envelope address is kept (a domain we do not send for, or `<>`).
   */
  returnPathDomain: z.string().nullable().default(null),
  /**
   * The blob holding each recipient's own header lines (List-Unsubscribe with its token, and
   * the DKIM signature over them), sent before the body; null: one body for all.
   */
  recipientHeadersRef: z.string().nullable().default(null),
  /** The request it came in with over HTTP (Mailgun's id, SendGrid's X-Message-Id). */
  batchId: z.string().nullable().default(null),
  /**
   * The message id the HTTP API answered with, when it is another message's: a tracked
   * message is stored as one message per recipient (each with its own pixel and links), and
   * the client knows them all by the first one's id (Postmark's MessageID). null: its own.
   */
  apiMessageId: z.string().nullable().default(null),
  /** The sending API's message stream (Postmark's MessageStream); null: its default. */
  stream: z.string().nullable().default(null),
  /** Tags (Mailgun `o:tag`, SendGrid categories, Postmark Tag), for webhooks and stats. */
  tags: z.array(z.string()).default([]),
  /** The application's own data (`v:`, `custom_args`, `Metadata`), returned in webhooks. */
  metadata: z.record(z.string(), z.string()).default({}),
  /** Held until then (`o:deliverytime`, `send_at`); null: sent at once. */
  scheduledAt: z.number().int().nullable().default(null),
  /** Test mode (`o:testmode`, sandbox_mode): accepted and recorded, never delivered. */
  testMode: z.boolean().default(false),
  /**
   * Deliver only over TLS (`o:require-tls`), whatever the site's policy says, and as
   * Mailgun does, with a certificate valid for the MX host's name.
   */
  requireTls: z.boolean().default(false),
  /** Where TLS is required, any certificate will do (`o:skip-verification`). */
  skipTlsVerification: z.boolean().default(false),
  /** Open and click tracking put into the message at acceptance. */
  tracking: z.object({ opens: z.boolean(), clicks: z.boolean() }).default({
    opens: false,
    clicks: false,
  }),
});

/** The DKIM signatures put on the message at acceptance (once: retries send the same bytes). */
export const MessageSignedSchema = z.object({
  signatures: z
    .array(
      z.object({
        domain: z.string(),
        selector: z.string(),
        algorithm: z.enum(['rsa-sha256', 'ed25519-sha256']),
      }),
    )
    .min(1),
});

export const DeliveryDeferredSchema = z.object({
  recipient: z.string(),
  ...routeFields,
  attempt: z.number().int().positive(),
  at: z.number().int(),
  nextAttemptAt: z.number().int(),
  reply: SmtpReplySchema,
  remote: RemoteSchema,
  category: z.string(),
  class: z.string().nullable().default(null),
});

export const MessageDeliveredSchema = z.object({
  recipient: z.string(),
  ...routeFields,
  attempt: z.number().int().positive(),
  at: z.number().int(),
  reply: SmtpReplySchema,
  remote: RemoteSchema,
  queuedMs: z.number().int().nonnegative(),
});

export const MessageBouncedSchema = z.object({
  recipient: z.string(),
  ...routeFields,
  attempt: z.number().int().nonnegative(),
  at: z.number().int(),
  reply: SmtpReplySchema,
  remote: RemoteSchema,
  classification: z.object({
    /** The bounce class (KumoMTA's names); older events have none. */
    class: z.string().nullable().default(null),
    /** PowerMTA's bounceCat. */
    category: z.string(),
    /** permanent suppresses the recipient; transient and policy never do. */
    severity: z.enum(['permanent', 'transient', 'policy']),
    /** The rule that matched: `file:line /regex/`. */
    rule: z.string(),
  }),
  /**
   * in-band: the remote said 5xx; expired: it kept saying 4xx until the queue age ran out;
   * admin: a reply rule bounced the site's queue (KumoMTA's AdminBounce), `reply` is the
   * reply that triggered it; out-of-band: a bounce report came back to the recipient's VERP
   * return path after the remote had accepted (or while we were still retrying).
   */
  phase: z.enum(['in-band', 'expired', 'admin', 'out-of-band']),
});

/** A recipient on a suppression list at acceptance: final, never attempted. */
export const RecipientSuppressedSchema = z.object({
  recipient: z.string(),
  at: z.number().int(),
  /** The list it is on (`global`, `credential:<name>`, `domain:<domain>`), and why. */
  scope: z.string(),
  reason: z.enum(['hard-bounce', 'complaint', 'unsubscribe', 'manual']),
});

/** A feedback (complaint) report came back about this recipient (RFC 5965). */
export const ComplaintReceivedSchema = z.object({
  recipient: z.string(),
  at: z.number().int(),
  /** abuse, fraud, virus, other (a not-spam report is no complaint). */
  feedbackType: z.string(),
  /** Who reported it (the report's User-Agent, e.g. Yahoo! Mail AntiSpam Feedback). */
  userAgent: z.string().nullable(),
});

/** The recipient asked to hear no more from this sender (RFC 8058 one-click, or mailto). */
export const UnsubscribedSchema = z.object({
  recipient: z.string(),
  at: z.number().int(),
  method: z.enum(['one-click', 'mailto']),
});

/** Who asked for a tracking URL, as the request told it; `machine` flags a non-person. */
const engagementFields = {
  recipient: z.string(),
  at: z.number().int(),
  userAgent: z.string().nullable(),
  ip: z.string().nullable(),
  /** apple: Mail Privacy Protection; gmail: its image proxy; generic: a scanner or bot. */
  machine: z.enum(['apple', 'gmail', 'generic']).nullable(),
  /** This recipient's first open (or click) of this message. */
  first: z.boolean(),
};

export const OpenedSchema = z.object(engagementFields);

export const ClickedSchema = z.object({
  ...engagementFields,
  url: z.string(),
  /** The part the link was in; links were tracked in the HTML alone before this field. */
  location: z.enum(['html', 'text']).default('html'),
});

export const MESSAGE_EVENT_SCHEMAS = {
  MessageAccepted: MessageAcceptedSchema,
  MessageSigned: MessageSignedSchema,
  DeliveryDeferred: DeliveryDeferredSchema,
  MessageDelivered: MessageDeliveredSchema,
  MessageBounced: MessageBouncedSchema,
  RecipientSuppressed: RecipientSuppressedSchema,
  ComplaintReceived: ComplaintReceivedSchema,
  Unsubscribed: UnsubscribedSchema,
  Opened: OpenedSchema,
  Clicked: ClickedSchema,
} as const;

export type MessageAccepted = {
  type: 'MessageAccepted';
  data: z.infer<typeof MessageAcceptedSchema>;
};

/** What the submitter may ask of a message beyond its content: the HTTP APIs' options. */
export type SubmissionOptions = Pick<
  MessageAccepted['data'],
  | 'batchId'
  | 'apiMessageId'
  | 'stream'
  | 'tags'
  | 'metadata'
  | 'scheduledAt'
  | 'testMode'
  | 'requireTls'
  | 'skipTlsVerification'
  | 'tracking'
>;

/** A message submitted with no options: over SMTP, or with none of them set. */
export const NO_SUBMISSION_OPTIONS: SubmissionOptions = {
  batchId: null,
  apiMessageId: null,
  stream: null,
  tags: [],
  metadata: {},
  scheduledAt: null,
  testMode: false,
  requireTls: false,
  skipTlsVerification: false,
  tracking: { opens: false, clicks: false },
};
export type MessageSigned = { type: 'MessageSigned'; data: z.infer<typeof MessageSignedSchema> };
export type DeliveryDeferred = {
  type: 'DeliveryDeferred';
  data: z.infer<typeof DeliveryDeferredSchema>;
};
export type MessageDelivered = {
  type: 'MessageDelivered';
  data: z.infer<typeof MessageDeliveredSchema>;
};
export type MessageBounced = { type: 'MessageBounced'; data: z.infer<typeof MessageBouncedSchema> };
export type RecipientSuppressed = {
  type: 'RecipientSuppressed';
  data: z.infer<typeof RecipientSuppressedSchema>;
};
export type ComplaintReceived = {
  type: 'ComplaintReceived';
  data: z.infer<typeof ComplaintReceivedSchema>;
};
export type Unsubscribed = { type: 'Unsubscribed'; data: z.infer<typeof UnsubscribedSchema> };
export type Opened = { type: 'Opened'; data: z.infer<typeof OpenedSchema> };
export type Clicked = { type: 'Clicked'; data: z.infer<typeof ClickedSchema> };
export type MessageEvent =
  | Opened
  | Clicked
  | Unsubscribed
  | ComplaintReceived
  | RecipientSuppressed
  | MessageAccepted
  | MessageSigned
  | DeliveryDeferred
  | MessageDelivered
  | MessageBounced;
export type MessageEventType = MessageEvent['type'];
export type Remote = z.infer<typeof RemoteSchema>;
/** The site and egress source an attempt went through. */
export interface AttemptRoute {
  readonly site: string | null;
  readonly source: string | null;
}
/** Transactional mail never waits behind bulk mail for the same site. */
export type Lane = MessageAccepted['data']['lane'];

export const MESSAGE_STREAM_PREFIX = 'message-';
export const messageStream = (messageId: string): string => `${MESSAGE_STREAM_PREFIX}${messageId}`;

export const isMessageEventType = (type: string): type is MessageEventType =>
  type in MESSAGE_EVENT_SCHEMAS;

/** Validates a stored or about-to-be-stored payload; throws a ZodError naming the field. */
export const parseMessageEvent = (type: string, data: unknown): MessageEvent | null => {
  if (!isMessageEventType(type)) return null;
  return { type, data: MESSAGE_EVENT_SCHEMAS[type].parse(data) } as MessageEvent;
};
