import { hashApiKey } from '../../adapters/api-keys/api-key.js';
import type {
  ApiMessage,
  ApiSubmissionPort,
  ApiSubmitResult,
} from '../../adapters/http-api/api-submission-port.js';
import { composeMime, envelopeRecipients } from '../../adapters/mime/compose-mime.js';
import type { Submission } from '../../adapters/smtp-in/submission-port.js';
import { parseMailboxList } from '../../domain/address/mailbox.js';
import { parseHeaderFields, summarizeHeaders } from '../../domain/message-body/headers.js';
import {
  inspectLineEndings,
  isClean,
  normalizeLineEndings,
} from '../../domain/message-body/line-endings.js';
import { findCredentialByApiKeyHash } from '../../projections/credentials/credentials.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';
import {
  type AcceptDeps,
  type createAcceptMessage,
  submissionRefusal,
} from '../relay/accept-message.js';
import type { SenderAuthorization } from '../relay/sender-authorization.js';

export interface ApiSubmissionDeps {
  readonly readDb: ReadModelDb;
  readonly accept: ReturnType<typeof createAcceptMessage>;
  readonly authorization: SenderAuthorization;
  readonly pools: AcceptDeps['pools'];
  readonly newMessageId: () => string;
  readonly hostname: string;
  readonly now: () => number;
  /** The same limit as SMTP's SIZE: a composed message larger than this is refused. */
  readonly maxMessageSize: number;
}

type Refusal = Extract<ApiSubmitResult, { ok: false }>;

interface Prepared {
  readonly messageId: string;
  readonly messageIdHeader: string;
  readonly submission: Submission;
  readonly message: ApiMessage;
}

const canonical = (bytes: Buffer): Buffer =>
  isClean(inspectLineEndings(bytes)) ? bytes : Buffer.from(normalizeLineEndings(bytes));

/**
 * The HTTP fronts' way into the relay: API keys are checked against the credentials read
 * model, and each message goes through the very acceptance SMTP uses (sender checks,
 * suppression, DKIM, one durable append); only the MIME is built here.
 */
export const createApiSubmission = (deps: ApiSubmissionDeps): ApiSubmissionPort => {
  /** The message as a submission, or why it cannot be one; nothing is stored yet. */
  const prepare = async (
    request: Parameters<ApiSubmissionPort['submit']>[0],
    message: ApiMessage,
  ): Promise<Prepared | Refusal> => {
    const messageId = deps.newMessageId();
    let messageIdHeader = `<${messageId}@${deps.hostname}>`;
    let body: Buffer;
    let sender: string;
    if (message.kind === 'fields') {
      messageIdHeader = message.messageIdHeader ?? messageIdHeader;
      body = canonical(await composeMime(message, messageIdHeader, new Date(deps.now())));
      sender = message.from.address;
    } else {
      body = canonical(message.mime);
      const { from } = summarizeHeaders(parseHeaderFields(body));
      const parsed = from ? parseMailboxList(from) : null;
      sender = parsed?.ok ? (parsed.mailboxes[0]?.address ?? '') : '';
      if (!sender)
        return {
          ok: false,
          code: 'SenderNotAuthorized',
          message: 'the MIME message has no valid From: address',
        };
    }
    const headers = summarizeHeaders(parseHeaderFields(body));
    // Acceptance adds a Message-ID the client left out: this one.
    messageIdHeader = headers.messageId ?? messageIdHeader;
    if (body.length > deps.maxMessageSize)
      return {
        ok: false,
        code: 'TooLarge',
        message: `the message is ${body.length} bytes; the limit is ${deps.maxMessageSize}`,
      };
    const submission: Submission = {
      envelope: {
        from: sender,
        to: envelopeRecipients(message).map((address) => ({ address, orcpt: null })),
        envId: null,
      },
      body,
      client: { address: request.clientAddress, helo: null, tls: false },
      credential: request.credential,
    };
    const refusal = submissionRefusal(deps, submission, headers);
    if (refusal) return { ok: false, code: refusal.code, message: refusal.message };
    return { messageId, messageIdHeader, submission, message };
  };

  const commit = async (
    request: Parameters<ApiSubmissionPort['submit']>[0],
    p: Prepared,
  ): Promise<ApiSubmitResult> => {
    const { message } = p;
    const accepted = await deps.accept(
      p.submission,
      request.source,
      {
        batchId: request.batchId,
        tags: [...message.tags],
        metadata: { ...message.metadata },
        scheduledAt: message.sendAt,
        testMode: message.testMode,
        requireTls: message.requireTls,
        tracking: { opens: false, clicks: false },
      },
      p.messageId,
    );
    return {
      ok: true,
      messageId: accepted.messageId,
      messageIdHeader: p.messageIdHeader,
      suppressed: accepted.suppressed,
    };
  };

  return {
    authenticateKey: (key) => {
      const found = key ? findCredentialByApiKeyHash(deps.readDb, hashApiKey(key)) : null;
      return found ? { id: found.id, name: found.name } : null;
    },
    domainsOf: (credential) => deps.authorization.allowedDomains(credential),
    submit: async (request, messages, mode = 'whole') => {
      const prepared = await Promise.all(messages.map((m) => prepare(request, m)));
      const refused = prepared.find((p): p is Refusal => 'ok' in p);
      // A whole request is taken or refused as one: nothing is stored when any part fails.
      if (mode === 'whole' && refused) return prepared.map(() => refused);
      // Together, so one group commit (one fsync) takes a whole batch.
      return Promise.all(prepared.map((p) => ('ok' in p ? p : commit(request, p))));
    },
  };
};
