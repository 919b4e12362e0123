import type { FastifyInstance, FastifyReply } from 'fastify';
import { type ApiRouteDeps, clientErrorStatus, retryAfterSeconds } from '../api-routes.js';
import { parseSendGridMail, type SendGridError } from './sendgrid-request.js';

/** SendGrid's documented total message size. */
const MAX_REQUEST_BYTES = 30 * 1024 * 1024;

const errors = (reply: FastifyReply, status: number, ...list: SendGridError[]) =>
  reply.code(status).send({ errors: list });

const plain = (message: string, field: string | null = null): SendGridError => ({
  message,
  field,
  help: null,
});

/**
 * SendGrid's Mail Send v3: `POST /v3/mail/send`, JSON, `Authorization: Bearer <key>`.
 * Answers as SendGrid does: 202 with an empty body and X-Message-Id (200 in sandbox mode),
 * errors as `{errors: [{message, field, help}]}`, which @sendgrid/mail's ResponseError reads.
 */
export const sendgridRoutes = async (app: FastifyInstance, deps: ApiRouteDeps): Promise<void> => {
  // JSON only: fastify's text/plain parser would hand a string to the validator.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const status = clientErrorStatus(error);
    if (status === 413) return errors(reply, 413, plain('Payload Too Large'));
    if (status === 415)
      return errors(reply, 415, plain('Content-Type should be application/json.'));
    if (status !== null) return errors(reply, 400, plain('Bad Request'));
    request.log.error({ err: error }, 'sendgrid API request failed');
    return errors(reply, 500, plain('Internal Server Error'));
  });

  app.post('/v3/mail/send', { bodyLimit: MAX_REQUEST_BYTES }, async (request, reply) => {
    const auth = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    if (!auth?.[1]) return errors(reply, 401, plain('authorization required'));
    const credential = deps.port.authenticateKey(auth[1], request.ip);
    if (!credential)
      return errors(
        reply,
        401,
        plain('The provided authorization grant is invalid, expired, or revoked'),
      );
    const parsed = parseSendGridMail(request.body, deps.now());
    if (!parsed.ok) return errors(reply, 400, ...parsed.errors);
    const batchId = deps.newBatchId();
    const [result] = await deps.port.submit(
      { source: 'sendgrid', credential, clientAddress: request.ip, batchId },
      parsed.messages,
    );
    if (result && !result.ok) {
      switch (result.code) {
        case 'TooLarge':
          return errors(reply, 413, plain(result.message));
        case 'UnknownPool':
          return errors(reply, 400, plain(result.message, 'ip_pool_name'));
        case 'VolumeLimitReached':
          reply.header('Retry-After', retryAfterSeconds(result.retryAt ?? deps.now(), deps.now()));
          return errors(reply, 429, plain(result.message));
        case 'CredentialPaused':
          return errors(reply, 403, plain(result.message));
        case 'HeaderTooLarge':
          return errors(reply, 400, plain(result.message, 'headers'));
        case 'InvalidText':
          return errors(reply, 400, plain(result.message));
        case 'OverVolumeCap':
        case 'RecipientNotAllowed':
          return errors(reply, 400, plain(result.message, 'personalizations'));
      }
      return errors(
        reply,
        403,
        plain(
          `The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. (${result.message})`,
          'from',
        ),
      );
    }
    return reply
      .code(parsed.sandbox ? 200 : 202)
      .header('X-Message-Id', batchId)
      .send();
  });
};
