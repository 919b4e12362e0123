import { TextDecoder } from 'node:util';
import formbody from '@fastify/formbody';
import {
  getMultipartBoundary,
  MaxFileSizeExceededError,
  MaxPartsExceededError,
  MaxTotalSizeExceededError,
  parseMultipart,
} from '@remix-run/multipart-parser';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthenticatedCredential } from '../../smtp-in/submission-port.js';
import {
  type ApiRouteDeps,
  basicCredentials,
  clientErrorStatus,
  retryAfterSeconds,
  rfc2822Date,
} from '../api-routes.js';
import type { ApiSubmitResult } from '../api-submission-port.js';
import {
  type MailgunFile,
  type MailgunForm,
  parseMailgunMessages,
  parseMailgunMime,
} from './mailgun-request.js';

/** Mailgun's own limit, and its own words for it. */
const MAX_REQUEST_BYTES = 52.4 * 1024 * 1024;
const TOO_LARGE = 'request size exceeds 52.4MiB limit';
/** A 1,000-recipient batch repeats `to` a thousand times, beside its other fields. */
const MAX_PARTS = 11_000;
const MAX_FILES = 1000;

class RequestTooLarge extends Error {
  readonly statusCode = 413;
}

class MalformedForm extends Error {}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;
const decoders = new Map<string, TextDecoder>();

/**
 * A field's text in the charset its part names (RFC 7578 §4.4), else UTF-8. What does not
 * decode becomes U+FFFD, which the submission refuses in any field bound for a header.
 */
const fieldText = (content: Buffer, contentType: string | undefined): string => {
  const label = contentType ? CHARSET.exec(contentType)?.[1]?.toLowerCase() : undefined;
  if (label === undefined || label === 'utf-8' || label === 'utf8') return content.toString('utf8');
  let decoder = decoders.get(label);
  if (!decoder) {
    try {
      decoder = new TextDecoder(label);
    } catch {
      return content.toString('utf8'); // a charset nobody knows: read as UTF-8
    }
    decoders.set(label, decoder);
  }
  return decoder.decode(content);
};

/** RFC 2046 lets a preamble come before the first boundary; the parser expects none. */
const withoutPreamble = (body: Buffer, boundary: string): Buffer => {
  const first = `--${boundary}`;
  if (body.toString('latin1', 0, first.length) === first) return body;
  const at = body.indexOf(`\r\n${first}`, 0, 'latin1');
  return at < 0 ? body : body.subarray(at + 2);
};

const isMultipart = (request: FastifyRequest): boolean =>
  /^multipart\/form-data\b/i.test(request.headers['content-type'] ?? '');

/**
 * Multipart or form-encoded, into Mailgun's view of a form: repeated fields and files.
 * A multipart body is read whole (fastify enforces the size) and split in one synchronous
 * pass, with no stream or event per part: for a small message those were most of its cost.
 */
const readForm = (request: FastifyRequest): { form: MailgunForm; files: MailgunFile[] } => {
  const form = new Map<string, string[]>();
  const add = (name: string, value: string) => {
    const values = form.get(name);
    if (values) values.push(value);
    else form.set(name, [value]);
  };
  const files: MailgunFile[] = [];
  if (!isMultipart(request)) {
    for (const [name, value] of Object.entries((request.body ?? {}) as Record<string, unknown>))
      for (const v of Array.isArray(value) ? value : [value]) add(name, String(v));
    return { form, files };
  }
  const boundary = getMultipartBoundary(request.headers['content-type'] ?? '');
  if (!boundary) throw new MalformedForm('no boundary');
  const parts = parseMultipart(withoutPreamble(request.body as Buffer, boundary), {
    boundary,
    maxParts: MAX_PARTS,
    maxFileSize: MAX_REQUEST_BYTES,
    maxTotalSize: MAX_REQUEST_BYTES,
  });
  try {
    for (const part of parts) {
      const name = part.name;
      if (name === undefined) continue;
      const bytes = part.bytes;
      const content = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      const filename = part.filename;
      if (filename === undefined) {
        add(name, fieldText(content, part.headers['content-type']));
        continue;
      }
      if (files.length >= MAX_FILES) throw new RequestTooLarge(TOO_LARGE);
      files.push({
        field: name,
        filename: filename || 'file',
        contentType: part.mediaType || null,
        content,
      });
    }
  } catch (error) {
    if (error instanceof RequestTooLarge) throw error;
    if (
      error instanceof MaxTotalSizeExceededError ||
      error instanceof MaxFileSizeExceededError ||
      error instanceof MaxPartsExceededError
    )
      throw new RequestTooLarge(TOO_LARGE);
    // A truncated body, a boundary that never comes, a part header out of bounds.
    throw new MalformedForm((error as Error).message);
  }
  return { form, files };
};

/**
 * Mailgun's sending API: `POST /v3/:domain/messages` (multipart or form-encoded) and
 * `/messages.mime` (multipart), HTTP Basic with user `api` and an API key. Answers as
 * Mailgun does: 200 `{id, message: "Queued. Thank you."}`, 4xx `{message}`, and a plain
 * `Forbidden` for a bad key, which is what mailgun.js and other clients parse.
 */
export const mailgunRoutes = async (app: FastifyInstance, deps: ApiRouteDeps): Promise<void> => {
  await app.register(formbody, { bodyLimit: MAX_REQUEST_BYTES });
  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'buffer', bodyLimit: MAX_REQUEST_BYTES },
    (_request, body, done) => done(null, body),
  );

  // Mailgun reads forms only: a JSON or text body is the wrong content type, not a form.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = clientErrorStatus(error);
    if (status === 413) return reply.code(413).send({ message: TOO_LARGE });
    if (status === 415)
      return reply.code(400).send({
        message: `Invalid request content type. Expecting 'multipart/form-data' or 'application/x-www-form-urlencoded' but got '${request.headers['content-type'] ?? ''}'`,
      });
    if (status !== null) return reply.code(status).send({ message: error.message });
    request.log.error({ err: error }, 'mailgun API request failed');
    return reply.code(500).send({ message: 'Internal Server Error' });
  });

  const authenticate = (
    request: FastifyRequest<{ Params: { domain: string } }>,
    reply: FastifyReply,
  ): AuthenticatedCredential | null => {
    const basic = basicCredentials(request.headers.authorization);
    const credential =
      basic && basic.user === 'api' ? deps.port.authenticateKey(basic.password, request.ip) : null;
    if (!credential) {
      reply.code(401).type('text/plain; charset=utf-8').send('Forbidden');
      return null;
    }
    const domain = request.params.domain.toLowerCase();
    if (!deps.port.domainsOf(credential).includes(domain)) {
      reply.code(404).send({ message: `Domain not found: ${request.params.domain}` });
      return null;
    }
    return credential;
  };

  const answer = (reply: FastifyReply, results: ApiSubmitResult[], domain: string) => {
    const [result] = results;
    if (!result) return reply.code(400).send({ message: 'no message' });
    if (!result.ok)
      switch (result.code) {
        // The request fitted; the message it makes is over the relay's size limit.
        case 'TooLarge':
          return reply.code(413).send({ message: result.message });
        case 'VolumeLimitReached': {
          const retryAt = result.retryAt ?? deps.now();
          const limit = result.measure === 'recipients' ? 'recipient' : 'request';
          return reply
            .code(429)
            .header('Retry-After', retryAfterSeconds(retryAt, deps.now()))
            .send({
              message: `Domain ${domain} is not allowed to send: ${limit} limit exceeded, try again after ${rfc2822Date(retryAt)}`,
            });
        }
        case 'CredentialPaused':
          return reply
            .code(403)
            .send({ message: `Domain ${domain} is not allowed to send: ${result.message}` });
        default:
          return reply.code(400).send({ message: result.message });
      }
    return reply.send({ id: result.messageIdHeader, message: 'Queued. Thank you.' });
  };

  type Route = FastifyRequest<{ Params: { domain: string } }>;
  const handle = (kind: 'messages' | 'mime') => async (request: Route, reply: FastifyReply) => {
    const credential = authenticate(request, reply);
    if (!credential) return reply;
    if (kind === 'mime' && !isMultipart(request))
      return reply.code(400).send({
        message: `Invalid request content type. Expecting 'multipart/form-data' but got '${request.headers['content-type'] ?? ''}'`,
      });
    let read: ReturnType<typeof readForm>;
    try {
      read = readForm(request);
    } catch (error) {
      if (!(error instanceof MalformedForm)) throw error;
      return reply.code(400).send({ message: 'malformed multipart/form-data body' });
    }
    const { form, files } = read;
    const batchId = deps.newBatchId();
    const now = deps.now();
    const parsed =
      kind === 'messages'
        ? parseMailgunMessages(form, files, {
            domain: request.params.domain.toLowerCase(),
            batchId,
            now,
          })
        : parseMailgunMime(form, files, { now });
    if (!parsed.ok) return reply.code(parsed.status).send({ message: parsed.message });
    const results = await deps.port.submit(
      { source: 'mailgun', credential, clientAddress: request.ip, batchId },
      parsed.messages,
    );
    return answer(reply, results, request.params.domain);
  };

  app.post('/v3/:domain/messages', handle('messages'));
  app.post('/v3/:domain/messages.mime', handle('mime'));
};
