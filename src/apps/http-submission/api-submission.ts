import type { Logger } from 'pino';
import { hashApiKey } from '../../adapters/api-keys/api-key.js';
import type {
  ApiMessage,
  ApiSubmissionPort,
  ApiSubmitResult,
} from '../../adapters/http-api/api-submission-port.js';
import { envelopeRecipients } from '../../adapters/mime/compose-mime.js';
import type { MimeComposer } from '../../adapters/mime/composer-thread.js';
import {
  type Submission,
  SubmissionDeferred,
  type SubmissionObjection,
  SubmissionRefused,
} from '../../adapters/smtp-in/submission-port.js';
import { parseMailboxList } from '../../domain/address/mailbox.js';
import {
  inspectLineEndings,
  isClean,
  normalizeLineEndings,
} from '../../domain/message-body/line-endings.js';
import { instrumentHtml, instrumentText } from '../../domain/tracking/tracking-links.js';
import type { CredentialRow } from '../../projections/credentials/credentials.js';
import type { CredentialGate } from '../abuse/credential-gate.js';
import {
  type AcceptDeps,
  type createAcceptMessage,
  headerSection,
  submissionRefusal,
} from '../relay/accept-message.js';
import { mayConnectFrom } from '../relay/authenticate.js';
import type { SenderAuthorization } from '../relay/sender-authorization.js';

export interface ApiSubmissionDeps {
  /** The active credential an active API key (by its SHA-256) belongs to, if any. */
  readonly credentialOfKey: (keyHash: string) => CredentialRow | null;
  readonly accept: ReturnType<typeof createAcceptMessage>;
  readonly authorization: SenderAuthorization;
  readonly pools: AcceptDeps['pools'];
  readonly headerLimits: AcceptDeps['headerLimits'];
  readonly newMessageId: () => string;
  readonly hostname: string;
  readonly now: () => number;
  /** The same limit as SMTP's SIZE: a composed message larger than this is refused. */
  readonly maxMessageSize: number;
  /** What one request may store in all, estimated before anything is composed. */
  readonly maxBatchBytes: number;
  /** Paused credentials and volume caps, checked for a whole request before any is stored. */
  readonly gate: Pick<CredentialGate, 'objection'>;
  readonly log: Pick<Logger, 'warn'>;
  /** Builds the MIME of messages given as fields (off the main thread, in the relay). */
  readonly composer: Pick<MimeComposer, 'compose'>;
  /** Open and click tracking: its public base URL and token key; null: never tracked. */
  readonly tracking: { readonly baseUrl: string; readonly key: Uint8Array } | null;
}

type Refusal = Extract<ApiSubmitResult, { ok: false }>;

const objectionResult = (objection: SubmissionObjection): Refusal => ({
  ok: false,
  code: objection.code,
  message: objection.message,
  ...(objection instanceof SubmissionDeferred
    ? { retryAt: objection.retryAt, measure: objection.measure }
    : {}),
});

/** What can be tracked in a message: a pixel and links in the HTML, links in the text. */
const trackingOf = (tracking: ApiSubmissionDeps['tracking'], message: ApiMessage) =>
  tracking && message.kind === 'fields'
    ? {
        opens: message.trackOpens === true && message.html !== null,
        htmlLinks: message.trackLinks?.html === true && message.html !== null,
        textLinks: message.trackLinks?.text === true && message.text !== null,
      }
    : { opens: false, htmlLinks: false, textLinks: false };

/**
 * At least what a message will store, before it is composed: its bodies in UTF-8, its
 * attachments in base64, once per copy (a tracked message is stored once per recipient).
 */
const estimatedBytes = (message: ApiMessage, copies: number): number => {
  if (message.kind === 'mime') return message.mime.length;
  const once =
    Buffer.byteLength(message.text ?? '') +
    Buffer.byteLength(message.html ?? '') +
    Buffer.byteLength(message.ampHtml ?? '') +
    message.attachments.reduce((sum, a) => sum + Math.ceil(a.content.length / 3) * 4, 0);
  return once * copies;
};

interface Prepared {
  readonly messageId: string;
  readonly messageIdHeader: string;
  /** The id the client is answered with, when it is not this one's (a tracked copy). */
  readonly apiMessageId: string | null;
  readonly submission: Submission;
  readonly message: ApiMessage;
  readonly tracking: { readonly opens: boolean; readonly clicks: boolean };
}

// NUL, and U+FFFD: what bytes that were not UTF-8 became when the request was decoded.
const UNFIT = /[\u0000\uFFFD]/;

/**
 * The first field bound for a header (subject, names, addresses, custom headers, tags,
 * custom data) that holds a NUL or bytes that were not UTF-8, by name; null when none does.
 * Bodies are left alone: there such bytes are content, and MIME encodes them.
 */
const unfitField = (message: ApiMessage): string | null => {
  const fields: Array<[string, string | null]> = [
    ...message.tags.map((t): [string, string] => ['tag', t]),
    ...Object.entries(message.metadata).flatMap(
      ([k, v]): Array<[string, string]> => [
        ['custom data', k],
        ['custom data', v],
      ],
    ),
  ];
  if (message.kind === 'fields') {
    fields.push(['subject', message.subject]);
    for (const [name, list] of [
      ['from', [message.from]],
      ['to', message.to],
      ['cc', message.cc],
      ['bcc', message.bcc],
      ['reply-to', message.replyTo],
    ] as const)
      for (const m of list) fields.push([name, m.address], [name, m.name]);
    for (const [name, value] of message.headers) fields.push([`header ${name}`, value]);
  }
  return fields.find(([, value]) => value !== null && UNFIT.test(value))?.[0] ?? null;
};

/** What these submissions count against a credential's caps. */
const volumeOf = (parts: readonly Prepared[]) => ({
  messages: parts.length,
  recipients: parts.reduce((n, p) => n + p.submission.envelope.to.length, 0),
});

const canonical = (bytes: Buffer): Buffer =>
  isClean(inspectLineEndings(bytes)) ? bytes : Buffer.from(normalizeLineEndings(bytes));

/**
 * The HTTP fronts' way into the relay: API keys are checked against the credentials read
 * model, and each message goes through the very acceptance SMTP uses (sender checks,
 * suppression, DKIM, one durable append); only the MIME is built here.
 */
export const createApiSubmission = (deps: ApiSubmissionDeps): ApiSubmissionPort => {
  /**
   * The message as submissions, or why it cannot be one; nothing is stored yet. A tracked
   * message becomes one submission per recipient, each with its own pixel and links (a
   * token names one recipient), all under the same Message-ID.
   */
  const prepare = async (
    request: Parameters<ApiSubmissionPort['submit']>[0],
    message: ApiMessage,
  ): Promise<Prepared[] | Refusal> => {
    const unfit = unfitField(message);
    if (unfit)
      return {
        ok: false,
        code: 'InvalidText',
        message: `the ${unfit} holds a NUL or bytes that are not UTF-8`,
      };
    const firstId = deps.newMessageId();
    const recipients = envelopeRecipients(message);
    const asked = trackingOf(deps.tracking, message);
    const tracking = { opens: asked.opens, clicks: asked.htmlLinks || asked.textLinks };
    const tracked = tracking.opens || tracking.clicks;
    const groups = tracked ? recipients.map((r) => [r]) : [recipients];
    let messageIdHeader = `<${firstId}@${deps.hostname}>`;
    if (message.kind === 'fields') messageIdHeader = message.messageIdHeader ?? messageIdHeader;
    const prepared: Prepared[] = [];
    for (const [i, group] of groups.entries()) {
      const messageId = i === 0 ? firstId : deps.newMessageId();
      let body: Buffer;
      let sender: string;
      if (message.kind === 'fields') {
        const urls =
          tracked && deps.tracking
            ? { ...deps.tracking, target: { messageId, recipientIndex: 0 } }
            : null;
        const html =
          urls && message.html !== null
            ? instrumentHtml(message.html, { ...urls, opens: asked.opens, clicks: asked.htmlLinks })
            : message.html;
        const text =
          urls && asked.textLinks && message.text !== null
            ? instrumentText(message.text, urls)
            : message.text;
        body = canonical(
          await deps.composer.compose(
            { ...message, html, text },
            messageIdHeader,
            new Date(deps.now()),
          ),
        );
        sender = message.from.address;
      } else {
        body = canonical(message.mime);
        const { from } = headerSection(body).headers;
        const parsed = from ? parseMailboxList(from) : null;
        sender = parsed?.ok ? (parsed.mailboxes[0]?.address ?? '') : '';
        if (!sender)
          return {
            ok: false,
            code: 'SenderNotAuthorized',
            message: 'the MIME message has no valid From: address',
          };
      }
      // Acceptance adds a Message-ID the client left out: this one.
      messageIdHeader = headerSection(body).headers.messageId ?? messageIdHeader;
      if (body.length > deps.maxMessageSize)
        return {
          ok: false,
          code: 'TooLarge',
          message: `the message is ${body.length} bytes; the limit is ${deps.maxMessageSize}`,
        };
      const submission: Submission = {
        envelope: {
          from: sender,
          to: group.map((address) => ({ address, orcpt: null })),
          envId: null,
        },
        body,
        client: { address: request.clientAddress, helo: null, tls: false },
        credential: request.credential,
      };
      const refusal = submissionRefusal(deps, submission);
      if (refusal) return { ok: false, code: refusal.code, message: refusal.message };
      prepared.push({
        messageId,
        messageIdHeader,
        apiMessageId: messageId === firstId ? null : firstId,
        submission,
        message,
        tracking,
      });
    }
    return prepared;
  };

  const commit = (
    request: Parameters<ApiSubmissionPort['submit']>[0],
    p: Prepared,
  ): Promise<{ messageId: string; suppressed: readonly string[] }> =>
    deps.accept(
      p.submission,
      request.source,
      {
        batchId: request.batchId,
        apiMessageId: p.apiMessageId,
        stream: p.message.stream,
        tags: [...p.message.tags],
        metadata: { ...p.message.metadata },
        scheduledAt: p.message.sendAt,
        testMode: p.message.testMode,
        requireTls: p.message.requireTls,
        skipTlsVerification: p.message.skipTlsVerification,
        tracking: p.tracking,
      },
      p.messageId,
    );

  /** One answer per API message, however many submissions it became. */
  const commitAll = async (
    request: Parameters<ApiSubmissionPort['submit']>[0],
    parts: readonly Prepared[],
  ): Promise<ApiSubmitResult> => {
    // A message stored as several (a tracked one, per recipient) is taken whole: checked
    // against the caps as one before any of it is counted, as a whole request is.
    if (parts.length > 1) {
      const objection = deps.gate.objection(request.credential, volumeOf(parts));
      if (objection) return objectionResult(objection);
    }
    let done: Array<{ messageId: string; suppressed: readonly string[] }>;
    try {
      done = await Promise.all(parts.map((p) => commit(request, p)));
    } catch (error) {
      // Refused or deferred at acceptance (a cap reached meanwhile): the client's answer.
      if (error instanceof SubmissionRefused || error instanceof SubmissionDeferred)
        return objectionResult(error);
      throw error;
    }
    return {
      ok: true,
      messageId: done[0]?.messageId ?? '',
      messageIdHeader: parts[0]?.messageIdHeader ?? '',
      suppressed: done.flatMap((d) => d.suppressed),
    };
  };

  return {
    authenticateKey: (key, clientAddress) => {
      const found = key ? deps.credentialOfKey(hashApiKey(key)) : null;
      if (!found) return null;
      if (!mayConnectFrom(found, clientAddress)) {
        deps.log.warn(
          { credential: found.name, client: clientAddress },
          "API key used from outside its credential's allowed networks",
        );
        return null;
      }
      return { id: found.id, name: found.name };
    },
    domainsOf: (credential) => deps.authorization.allowedDomains(credential),
    submit: async (request, messages, mode = 'whole') => {
      // Refused before anything is built: composing first is what took the memory. A whole
      // request goes or not as one; items stand alone, taken in order while the room lasts.
      let stored = 0;
      const over = messages.map((m) => {
        const asked = trackingOf(deps.tracking, m);
        const tracked = asked.opens || asked.htmlLinks || asked.textLinks;
        stored += estimatedBytes(m, tracked ? envelopeRecipients(m).length : 1);
        return stored > deps.maxBatchBytes ? stored : null;
      });
      const tooLarge = (bytes: number): Refusal => ({
        ok: false,
        code: 'TooLarge',
        message: `the request would store at least ${bytes} bytes of messages; the limit is ${deps.maxBatchBytes}`,
      });
      if (mode === 'whole' && stored > deps.maxBatchBytes)
        return messages.map(() => tooLarge(stored));
      const prepared = await Promise.all(
        messages.map((m, i) => {
          const bytes = over[i];
          return bytes === null || bytes === undefined ? prepare(request, m) : tooLarge(bytes);
        }),
      );
      const refused = prepared.find((p): p is Refusal => !Array.isArray(p));
      // A whole request is taken or refused as one: nothing is stored when any part fails,
      // nor when all of it would take the credential over a cap.
      if (mode === 'whole' && refused) return prepared.map(() => refused);
      if (mode === 'whole') {
        const all = prepared.flatMap((p) => (Array.isArray(p) ? p : []));
        const objection = deps.gate.objection(request.credential, volumeOf(all));
        if (objection) return prepared.map(() => objectionResult(objection));
      }
      // Together, so one group commit (one fsync) takes a whole batch.
      return Promise.all(prepared.map((p) => (Array.isArray(p) ? commitAll(request, p) : p)));
    },
  };
};
