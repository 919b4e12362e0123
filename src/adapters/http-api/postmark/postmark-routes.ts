import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthenticatedCredential } from '../../smtp-in/submission-port.js';
import { type ApiRouteDeps, clientErrorStatus, retryAfterSeconds } from '../api-routes.js';
import type { ApiMessage, ApiSubmitResult } from '../api-submission-port.js';
import {
  MAX_BATCH,
  POSTMARK,
  type PostmarkError,
  parsePostmarkMessage,
} from './postmark-request.js';

/** Postmark's batch payload limit (single messages are 10 MB: the relay's size limit). */
const MAX_REQUEST_BYTES = 50 * 1024 * 1024;

const INACTIVE_WHY =
  'Inactive recipients are ones that have generated a hard bounce or a spam complaint.';

const problem = (reply: FastifyReply, status: number, error: PostmarkError) =>
  reply.code(status).send(error);

/**
 * What Postmark says about one accepted or refused message: `{To, SubmittedAt, MessageID,
 * ErrorCode: 0, Message: "OK"}`, or an error. Suppressed recipients are Postmark's inactive
 * ones, in the words postmark.js parses into InactiveRecipientsError.recipients.
 */
const outcome = (
  message: ApiMessage,
  result: ApiSubmitResult,
  at: string,
): { status: number; body: Record<string, unknown>; retryAt?: number | null } => {
  if (!result.ok) {
    switch (result.code) {
      case 'VolumeLimitReached':
        return {
          status: 429,
          body: { ErrorCode: POSTMARK.rateLimited, Message: result.message },
          retryAt: result.retryAt ?? null,
        };
      case 'CredentialPaused':
        return {
          status: 422,
          body: { ErrorCode: POSTMARK.accountMayNotSend, Message: result.message },
        };
      case 'SenderNotAuthorized':
        break;
      default:
        return {
          status: 422,
          body: { ErrorCode: POSTMARK.invalidRequest, Message: result.message },
        };
    }
    const from = message.kind === 'fields' ? message.from.address : '';
    return {
      status: 422,
      body: {
        ErrorCode: POSTMARK.senderNotFound,
        Message: `The 'From' address you supplied (${from}) is not a Sender Signature on your account. Please add and confirm this address in order to be able to use it in the 'From' field of your messages. (${result.message})`,
      },
    };
  }
  const recipients =
    message.kind === 'fields' ? [...message.to, ...message.cc, ...message.bcc] : message.to;
  if (result.suppressed.length > 0 && result.suppressed.length === recipients.length)
    return {
      status: 422,
      body: {
        ErrorCode: POSTMARK.inactiveRecipient,
        // One line: postmark.js reads the addresses with /Found inactive addresses: (.+?)\.? Inactive/.
        Message: `You tried to send to a recipient that has been marked as inactive. Found inactive addresses: ${result.suppressed.join(', ')}. ${INACTIVE_WHY}`,
      },
    };
  return {
    status: 200,
    body: {
      ...(message.kind === 'fields' && message.to.length > 0
        ? { To: message.to.map((m) => m.address).join(', ') }
        : {}),
      SubmittedAt: at,
      MessageID: result.messageId,
      ErrorCode: 0,
      Message:
        result.suppressed.length > 0
          ? `Message OK, but will not deliver to these inactive addresses: ${result.suppressed.join(', ')}. ${INACTIVE_WHY}`
          : 'OK',
    },
  };
};

/**
 * Postmark's sending API: `POST /email` and `POST /email/batch` (JSON), with
 * `X-Postmark-Server-Token`. Errors are `{ErrorCode, Message}`: 401 for the token, 422 for
 * the request, as postmark.js maps them to its error classes.
 */
export const postmarkRoutes = async (app: FastifyInstance, deps: ApiRouteDeps): Promise<void> => {
  // JSON only: fastify's text/plain parser would hand a string to the validator.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const status = clientErrorStatus(error);
    if (status === 413)
      return problem(reply, 413, {
        ErrorCode: POSTMARK.invalidRequest,
        Message: 'The request is larger than the 50 MB limit.',
      });
    if (status === 415)
      return problem(reply, 415, { ErrorCode: POSTMARK.jsonRequired, Message: 'JSON required.' });
    if (status !== null)
      return problem(reply, 422, {
        ErrorCode: POSTMARK.invalidJson,
        Message: 'Invalid JSON: the request body could not be parsed.',
      });
    request.log.error({ err: error }, 'postmark API request failed');
    return problem(reply, 500, { ErrorCode: 500, Message: 'Internal Server Error' });
  });

  const authenticate = (
    request: FastifyRequest,
    reply: FastifyReply,
  ): AuthenticatedCredential | null => {
    const token = request.headers['x-postmark-server-token'];
    if (typeof token !== 'string' || token === '') {
      problem(reply, 401, {
        ErrorCode: POSTMARK.badToken,
        Message:
          'No Account or Server API tokens were supplied in the HTTP headers. Please add a header for either X-Postmark-Server-Token or X-Postmark-Account-Token.',
      });
      return null;
    }
    const credential = deps.port.authenticateKey(token, request.ip);
    if (!credential)
      problem(reply, 401, {
        ErrorCode: POSTMARK.badToken,
        Message: 'Request does not contain a valid Server token.',
      });
    return credential;
  };

  const request = (source: FastifyRequest, credential: AuthenticatedCredential) => ({
    source: 'postmark' as const,
    credential,
    clientAddress: source.ip,
    batchId: deps.newBatchId(),
  });

  app.post('/email', { bodyLimit: MAX_REQUEST_BYTES }, async (req, reply) => {
    const credential = authenticate(req, reply);
    if (!credential) return reply;
    const parsed = parsePostmarkMessage(req.body);
    if (!parsed.ok) return problem(reply, 422, parsed.error);
    const [result] = await deps.port.submit(request(req, credential), [parsed.message]);
    if (!result) throw new Error('no result for the message');
    const { status, body, retryAt } = outcome(
      parsed.message,
      result,
      new Date(deps.now()).toISOString(),
    );
    if (retryAt) reply.header('Retry-After', retryAfterSeconds(retryAt, deps.now()));
    return reply.code(status).send(body);
  });

  app.post('/email/batch', { bodyLimit: MAX_REQUEST_BYTES }, async (req, reply) => {
    const credential = authenticate(req, reply);
    if (!credential) return reply;
    if (!Array.isArray(req.body))
      return problem(reply, 422, {
        ErrorCode: POSTMARK.invalidJson,
        Message: 'The batch request body must be a JSON array of messages.',
      });
    if (req.body.length > MAX_BATCH)
      return problem(reply, 422, {
        ErrorCode: POSTMARK.tooManyBatchMessages,
        Message: `Too many messages in the batch: at most ${MAX_BATCH}.`,
      });
    const parsed = req.body.map(parsePostmarkMessage);
    const valid = parsed.flatMap((p) => (p.ok ? [p.message] : []));
    // Each message stands alone: a refused one does not hold back the others.
    const results = await deps.port.submit(request(req, credential), valid, 'each');
    const at = new Date(deps.now()).toISOString();
    let next = 0;
    return reply.send(
      parsed.map((p) => {
        if (!p.ok) return p.error;
        const result = results[next++];
        if (!result) throw new Error('no result for a batch message');
        return outcome(p.message, result, at).body;
      }),
    );
  });
};
