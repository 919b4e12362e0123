import { randomUUID } from 'node:crypto';
import type { SignedHeaders } from '../../adapters/dkim/dkim-signer.js';
import { type Submission, SubmissionRefused } from '../../adapters/smtp-in/submission-port.js';
import { fromDomains } from '../../domain/address/from-domains.js';
import { handleCommand } from '../../domain/command-handling/handle-command.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { messageDecider } from '../../domain/message/decider.js';
import {
  type MessageAccepted,
  messageStream,
  NO_SUBMISSION_OPTIONS,
  type SubmissionOptions,
} from '../../domain/message/events.js';
import {
  type HeaderSummary,
  headerEnd,
  parseHeaderFields,
  summarizeHeaders,
  withoutHeaderFields,
} from '../../domain/message-body/headers.js';
import { receivedHeader, rfc5322Date } from '../../domain/message-body/trace-fields.js';
import {
  type Suppression,
  type SuppressionScope,
  scopesFor,
} from '../../domain/suppression/suppression.js';
import { targetToken } from '../../domain/verp/verp.js';
import type { CredentialGate } from '../abuse/credential-gate.js';
import type { SignOutgoing } from './message-signing.js';
import type { SenderAuthorization } from './sender-authorization.js';

const CONTROL_HEADERS = ['X-Mailtrail-Pool', 'X-Mailtrail-Lane', 'X-Mailtrail-Unsubscribe'];

export interface AcceptDeps {
  readonly store: EventStore;
  readonly hostname: string;
  readonly now: () => number;
  readonly newMessageId: () => string;
  /** Checks MAIL FROM and From: against the credential's domains. */
  readonly authorization: Pick<SenderAuthorization, 'checkSender'>;
  /** DKIM-signs the final message for its From: domain; null when it has no keys. */
  readonly sign: SignOutgoing | null;
  /** The configured egress pools, and each credential's pool. */
  readonly pools: ReadonlySet<string>;
  readonly poolOf: (credentialId: string) => string | null;
  /** The credential's one-click unsubscribe setting: on, off, or null (bulk mail only). */
  readonly unsubscribeOf: (credentialId: string) => 'on' | 'off' | null;
  /** The return-path domain for mail from this envelope domain, if we send for it. */
  readonly returnPathDomainFor: (envelopeDomain: string) => string | null;
  /** One-click unsubscribe links (RFC 8058): their base URL and token key; null: none. */
  readonly unsubscribe: { readonly baseUrl: string; readonly key: Uint8Array } | null;
  /** Paused credentials and volume caps: counts each message as it is stored. */
  readonly gate: Pick<CredentialGate, 'reserve'>;
  /** The header section's size and field count, for every front door. */
  readonly headerLimits: { readonly maxBytes: number; readonly maxFields: number };
  /** The first of these suppression lists the address is on, if any. */
  readonly suppressionOf: (
    address: string,
    scopes: readonly SuppressionScope[],
  ) => Suppression | null;
}

/** A message's header section as acceptance reads it. */
export interface HeaderSection {
  readonly headers: HeaderSummary;
  readonly fieldCount: number;
  /** The domains of the From: addresses. */
  readonly senders: readonly string[];
}

// The HTTP fronts check a whole request before storing any of it, then accept each message:
// the same bytes, read once.
const readSections = new WeakMap<Buffer, HeaderSection>();

/** The header section of a message body, parsed once per body. */
export const headerSection = (body: Buffer): HeaderSection => {
  const known = readSections.get(body);
  if (known) return known;
  const fields = parseHeaderFields(body);
  const headers = summarizeHeaders(fields);
  const section = { headers, fieldCount: fields.length, senders: fromDomains(headers.from) };
  readSections.set(body, section);
  return section;
};

/**
 * Why a submission is refused for what it says (its sender, its pool), before anything is
 * stored; null when it may go on. Batches check every message first, so a request is
 * taken whole or not at all.
 */
export const submissionRefusal = (
  deps: Pick<AcceptDeps, 'authorization' | 'pools' | 'headerLimits'>,
  submission: Submission,
): SubmissionRefused | null => {
  const { headers, fieldCount, senders } = headerSection(submission.body);
  const headerBytes = headerEnd(submission.body);
  const { maxBytes, maxFields } = deps.headerLimits;
  if ((headerBytes < 0 ? submission.body.length : headerBytes) > maxBytes)
    return new SubmissionRefused(
      'HeaderTooLarge',
      `Message header section too big (${maxBytes} octets at most)`,
    );
  if (fieldCount > maxFields)
    return new SubmissionRefused(
      'HeaderTooLarge',
      `Message has too many header fields (${maxFields} at most)`,
    );
  if (submission.credential) {
    const refusal = deps.authorization.checkSender(
      submission.credential,
      submission.envelope.from,
      senders,
    );
    if (refusal) return new SubmissionRefused('SenderNotAuthorized', refusal);
  }
  if (headers.pool !== null && !deps.pools.has(headers.pool))
    return new SubmissionRefused(
      'UnknownPool',
      `X-Mailtrail-Pool: no egress pool named ${headers.pool} (${[...deps.pools].join(', ') || 'none configured'})`,
    );
  return null;
};

/**
 * Stores a submitted message: MessageAccepted (and MessageSigned) and the body in one
 * append, so one commit (and one fsync, shared with whatever else commits with it) makes
 * them durable. We add a Received: line, and Message-ID and Date when the client left them
 * out (RFC 6409 §8), then sign the result once: retries send these very bytes.
 */
export const createAcceptMessage =
  (deps: AcceptDeps) =>
  async (
    submission: Submission,
    source: MessageAccepted['data']['source'] = 'smtp',
    options: SubmissionOptions = NO_SUBMISSION_OPTIONS,
    /** Set when the caller already named the message (an HTTP API composing it). */
    givenMessageId: string | null = null,
  ): Promise<{ readonly messageId: string; readonly suppressed: readonly string[] }> => {
    const messageId = givenMessageId ?? deps.newMessageId();
    const at = deps.now();
    const { headers, senders } = headerSection(submission.body);
    const refusal = submissionRefusal(deps, submission);
    if (refusal) throw refusal;
    // Counted before the first await, so concurrent sessions cannot all slip under a cap.
    const release = submission.credential
      ? deps.gate.reserve(submission.credential, {
          messages: 1,
          recipients: submission.envelope.to.length,
        })
      : null;
    try {
      const pool =
        headers.pool ?? (submission.credential ? deps.poolOf(submission.credential.id) : null);
      const prefix =
        receivedHeader({
          helo: submission.client.helo,
          clientAddress: submission.client.address,
          byHost: deps.hostname,
          tls: submission.client.tls,
          authenticated: submission.credential !== null,
          id: messageId,
          at,
        }) +
        (headers.messageId ? '' : `Message-ID: <${messageId}@${deps.hostname}>\r\n`) +
        (headers.date ? '' : `Date: ${rfc5322Date(at)}\r\n`);
      // Our own control headers steer this relay and go no further.
      const content = withoutHeaderFields(submission.body, CONTROL_HEADERS);
      const unsigned = Buffer.concat([Buffer.from(prefix, 'latin1'), content]);
      const bodyRef = `body-${messageId}`;
      const envelopeDomain = submission.envelope.from.split('@')[1]?.toLowerCase() ?? null;
      const returnPathDomain = envelopeDomain ? deps.returnPathDomainFor(envelopeDomain) : null;
      // The message says, else its credential, else: bulk mail gets the headers.
      const setting =
        headers.unsubscribe !== 'default'
          ? headers.unsubscribe
          : ((submission.credential ? deps.unsubscribeOf(submission.credential.id) : null) ??
            (headers.lane === 'bulk' ? 'on' : 'off'));
      const unsubscribe = setting === 'on' ? deps.unsubscribe : null;
      // With one-click unsubscribe each recipient gets its own List-Unsubscribe (its token)
      // and a DKIM signature over it, kept apart from the shared body and sent before it;
      // otherwise the whole message is signed once.
      // One recipient at a time: each signing holds a copy of the message.
      let perRecipient: Array<{ headers: string; signed: SignedHeaders | null }> | null = null;
      if (unsubscribe) {
        perRecipient = [];
        for (const recipientIndex of submission.envelope.to.keys()) {
          const token = targetToken(unsubscribe.key, { messageId, recipientIndex });
          const lines =
            `List-Unsubscribe: <${unsubscribe.baseUrl}/${token}>${returnPathDomain ? `, <mailto:u+${token}@${returnPathDomain}>` : ''}\r\n` +
            'List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n';
          const own = Buffer.concat([Buffer.from(lines, 'latin1'), unsigned]);
          const signedOwn = deps.sign ? await deps.sign(own, senders[0] ?? null, at) : null;
          perRecipient.push({ headers: `${signedOwn?.headers ?? ''}${lines}`, signed: signedOwn });
        }
      }
      const signed = perRecipient
        ? (perRecipient[0]?.signed ?? null)
        : deps.sign
          ? await deps.sign(unsigned, senders[0] ?? null, at)
          : null;
      const body =
        signed && !perRecipient
          ? Buffer.concat([Buffer.from(signed.headers, 'latin1'), unsigned])
          : unsigned;
      const recipientHeadersRef = perRecipient ? `headers-${messageId}` : null;
      const data: MessageAccepted['data'] = {
        messageId,
        acceptedAt: at,
        source,
        credential: submission.credential ? { ...submission.credential } : null,
        client: { ...submission.client },
        envelope: {
          from: submission.envelope.from,
          to: submission.envelope.to.map((t) => ({ ...t })),
          envId: submission.envelope.envId,
        },
        headers: {
          messageId: headers.messageId ?? `<${messageId}@${deps.hostname}>`,
          subject: headers.subject,
          from: headers.from,
        },
        size: body.length,
        bodyRef,
        jobId: headers.jobId,
        lane: headers.lane,
        pool,
        returnPathDomain,
        recipientHeadersRef,
        ...options,
      };
      // Suppressed recipients are recorded as such and never attempted; the others go on.
      const scopes = scopesFor(submission.credential?.name ?? null, senders[0] ?? envelopeDomain);
      const suppressed = data.envelope.to.flatMap((to) => {
        const found = deps.suppressionOf(to.address, scopes);
        return found ? [{ recipient: to.address, at, ...found }] : [];
      });
      await handleCommand(
        deps.store,
        messageStream(messageId),
        messageDecider,
        {
          type: 'AcceptMessage',
          data,
          ...(suppressed.length > 0 ? { suppressed } : {}),
          ...(signed ? { signed: { signatures: [...signed.signatures] } } : {}),
        },
        {
          newEventId: () => randomUUID(),
          blobs: [
            { key: bodyRef, bytes: body },
            ...(perRecipient && recipientHeadersRef
              ? [
                  {
                    key: recipientHeadersRef,
                    bytes: Buffer.from(JSON.stringify(perRecipient.map((p) => p.headers))),
                  },
                ]
              : []),
          ],
          // A fresh id: nothing to read. `no_stream` still guards against a collision.
          loaded: { state: messageDecider.initialState, revision: 'no_stream' },
          retries: 0,
        },
      );
      return { messageId, suppressed: suppressed.map((s) => s.recipient) };
    } catch (error) {
      release?.();
      throw error;
    }
  };
