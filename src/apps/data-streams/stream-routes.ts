import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { isMessageEventType } from '../../domain/message/events.js';
import { acctRecordsAfter } from '../../projections/accounting/accounting.js';
import { volumeChangesAfter } from '../../projections/credential-volume/credential-volume.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';
import { eventFeed, type FeedFilter } from './event-feed.js';

export interface StreamRouteDeps {
  readonly store: EventStore;
  readonly readDb: ReadModelDb;
  /** The operator's token (http.streamToken): every credential's mail, and the accounting log. */
  readonly streamToken: string | null;
  /** An API key's credential: it sees its own mail only. */
  readonly authenticateKey: (
    key: string,
    clientAddress: string,
  ) => { readonly id: string; readonly name: string } | null;
}

type Access = { readonly all: true } | { readonly all: false; readonly credentialId: string };

interface StreamQuery {
  after?: string;
  types?: string;
  credential?: string;
  domain?: string;
  tag?: string;
  format?: string;
}

/** What an open stream has sent and holds, for `GET /v1/streams` (slow consumers show). */
interface OpenStream {
  readonly kind: 'events' | 'accounting' | 'volume';
  readonly client: string;
  readonly since: number;
  position: string;
  sent: number;
  readonly raw: ServerResponse;
}

/** Compared in constant time: the stream token opens every credential's mail. */
const sameSecret = (given: string, expected: string): boolean => {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
};

const POSITION = /^\d{1,19}$/;
const ROW_PAGE = 500;
const ROW_POLL_MS = 250;
const HEARTBEAT_MS = 15_000;

/**
 * Event and projection streams for data teams (message events, the accounting log,
 * per-credential volume): NDJSON, or Server-Sent Events when asked
 * (`Accept: text/event-stream` or `?format=sse`), from a global position (`?after=`, or SSE's
 * `Last-Event-ID`) on, history then live, until the client goes. Each line carries its
 * position, so a consumer resumes after the last one it kept, with no gap and no duplicate.
 * Backpressure: the next event is read only once the socket has taken the last one, so a
 * slow consumer costs the server one socket buffer, not a growing queue.
 */
export const streamRoutes = async (app: FastifyInstance, deps: StreamRouteDeps) => {
  const open = new Set<OpenStream>();

  const access = (request: FastifyRequest): Access | null => {
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    const token = match?.[1];
    if (!token) return null;
    if (deps.streamToken !== null && sameSecret(token, deps.streamToken)) return { all: true };
    const credential = deps.authenticateKey(token, request.ip);
    return credential ? { all: false, credentialId: credential.id } : null;
  };

  const refuse = (reply: FastifyReply, status: number, message: string) =>
    reply.code(status).send({ error: message });

  const startAt = (request: FastifyRequest<{ Querystring: StreamQuery }>): bigint | string => {
    const text = (request.headers['last-event-id'] as string | undefined) ?? request.query.after;
    if (text === undefined || text === '') return 0n;
    return POSITION.test(text)
      ? BigInt(text)
      : `after: expected a position (a decimal number), not "${text}"`;
  };

  const isSse = (request: FastifyRequest<{ Querystring: StreamQuery }>): boolean =>
    request.query.format === 'sse' ||
    (request.query.format === undefined &&
      (request.headers.accept ?? '').includes('text/event-stream'));

  /** Sends items as they come, waiting for the socket whenever its buffer is full. */
  const pump = async (
    request: FastifyRequest<{ Querystring: StreamQuery }>,
    reply: FastifyReply,
    kind: OpenStream['kind'],
    items: (
      signal: AbortSignal,
    ) => AsyncIterable<{ position: string; type: string; line: unknown }>,
  ): Promise<void> => {
    const sse = isSse(request);
    const controller = new AbortController();
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, {
      'content-type': sse ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.flushHeaders();
    const stream: OpenStream = {
      kind,
      client: request.ip,
      since: Date.now(),
      position: '0',
      sent: 0,
      raw,
    };
    open.add(stream);
    const stop = () => controller.abort();
    request.raw.on('close', stop);
    raw.on('close', stop);
    const heartbeat = sse
      ? setInterval(() => {
          if (raw.writableLength === 0) raw.write(': keep-alive\n\n');
        }, HEARTBEAT_MS)
      : null;
    try {
      for await (const item of items(controller.signal)) {
        const json = JSON.stringify(item.line);
        const chunk = sse
          ? `id: ${item.position}\nevent: ${item.type}\ndata: ${json}\n\n`
          : `${json}\n`;
        stream.position = item.position;
        stream.sent++;
        if (!raw.write(chunk)) await once(raw, 'drain', { signal: controller.signal });
      }
    } catch (error) {
      if (!controller.signal.aborted) request.log.error({ err: error }, 'stream failed');
    } finally {
      if (heartbeat) clearInterval(heartbeat);
      open.delete(stream);
      raw.end();
    }
  };

  app.get<{ Querystring: StreamQuery }>('/v1/streams/events', async (request, reply) => {
    const who = access(request);
    if (!who)
      return refuse(reply, 401, 'a stream token or an API key is needed (Authorization: Bearer …)');
    const after = startAt(request);
    if (typeof after === 'string') return refuse(reply, 400, after);
    const types =
      request.query.types
        ?.split(',')
        .map((t) => t.trim())
        .filter(Boolean) ?? [];
    const unknown = types.find((t) => !isMessageEventType(t));
    if (unknown) return refuse(reply, 400, `types: ${unknown} is not a message event type`);
    if (!who.all && request.query.credential && request.query.credential !== who.credentialId)
      return refuse(reply, 403, 'an API key streams its own credential only');
    const credentialId = who.all ? request.query.credential : who.credentialId;
    const filter: FeedFilter = {
      types,
      ...(credentialId ? { credentialId } : {}),
      ...(request.query.domain ? { domain: request.query.domain } : {}),
      ...(request.query.tag ? { tag: request.query.tag } : {}),
    };
    await pump(request, reply, 'events', async function* (signal) {
      for await (const line of eventFeed(deps.store, { after, filter, signal }))
        yield { position: line.position, type: line.type, line };
    });
  });

  /**
   * A projection's rows after a position, page by page, then live, for the stream token
   * only. The projections are kept by the delivery thread, so once caught up this looks
   * again shortly.
   */
  const rowStream = <R>(
    path: string,
    kind: OpenStream['kind'],
    what: string,
    page: (after: bigint) => ReadonlyArray<{ readonly position: bigint; readonly row: R }>,
    line: (position: bigint, row: R) => { type: string; line: unknown },
  ) =>
    app.get<{ Querystring: StreamQuery }>(path, async (request, reply) => {
      const who = access(request);
      if (!who) return refuse(reply, 401, 'a stream token is needed (Authorization: Bearer …)');
      if (!who.all) return refuse(reply, 403, `${what} is for the stream token only`);
      const start = startAt(request);
      if (typeof start === 'string') return refuse(reply, 400, start);
      await pump(request, reply, kind, async function* (signal) {
        let after = start;
        while (!signal.aborted) {
          const rows = page(after);
          for (const { position, row } of rows) {
            after = position;
            yield { position: position.toString(), ...line(position, row) };
          }
          if (rows.length < ROW_PAGE)
            await new Promise((resolve) => setTimeout(resolve, ROW_POLL_MS));
        }
      });
    });

  rowStream(
    '/v1/streams/accounting',
    'accounting',
    'the accounting log',
    (after) =>
      acctRecordsAfter(deps.readDb, after, ROW_PAGE).map((r) => ({
        position: r.position,
        row: r.record,
      })),
    (position, record) => ({
      type: record.type,
      line: { schema: 'mailtrail.accounting/1', position: position.toString(), ...record },
    }),
  );

  rowStream(
    '/v1/streams/volume',
    'volume',
    'per-credential volume',
    (after) =>
      volumeChangesAfter(deps.readDb, after, ROW_PAGE).map((row) => ({
        position: row.position,
        row,
      })),
    (position, row) => ({
      type: 'CredentialVolume',
      line: {
        schema: 'mailtrail.volume/1',
        position: position.toString(),
        credential: { id: row.credentialId, name: row.credentialName },
        minute: new Date(row.minute).toISOString(),
        messages: row.messages,
        recipients: row.recipients,
        // Added fields keep the schema version: readers ignore what they do not know.
        delivered: row.delivered,
        bounced: row.bounced,
      },
    }),
  );

  app.get('/v1/streams', async (request, reply) => {
    const who = access(request);
    if (!who?.all) return refuse(reply, 401, 'the stream token is needed');
    return {
      streams: [...open].map((s) => ({
        kind: s.kind,
        client: s.client,
        since: new Date(s.since).toISOString(),
        position: s.position,
        sent: s.sent,
        /** Bytes written but not yet taken by the client: bounded by backpressure. */
        bufferedBytes: s.raw.writableLength,
      })),
    };
  });
};
