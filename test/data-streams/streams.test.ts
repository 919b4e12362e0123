/**
 * Event and accounting streams for data teams, over the real HTTP server: NDJSON and SSE
 * from a position, filters, access by stream token or API key, resuming with no gap and
 * no duplicate, and backpressure (a consumer that stops reading holds a bounded buffer).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { messageStream } from '../../src/domain/message/events.js';
import { listCredentials } from '../../src/projections/credentials/credentials.js';
import { listRecipients } from '../../src/projections/delivery-queue/queries.js';
import { type ApiRelay, startApiRelay } from '../support/api-relay.js';
import { waitFor } from '../support/relay-harness.js';

const TOKEN = `st_${'x'.repeat(40)}`;
type Line = { position: string; type: string; messageId: string; tags: string[]; schema: string };

// One timer for the whole suite in Node 20 (not one per test): the 20 MB backpressure test
// alone can take several seconds on a slow disk.
describe('event and accounting streams', { timeout: 120_000 }, () => {
  let api: ApiRelay;
  let url: (path: string) => string;
  const messages: string[] = [];

  const send = async (subject: string, tag: string) => {
    const response = await fetch(`${api.baseUrl}/v3/${api.domain}/messages`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`api:${api.apiKey}`).toString('base64')}` },
      body: new URLSearchParams({
        from: `team@${api.domain}`,
        to: `${subject}@example.com`,
        subject,
        text: 'Hi',
        'o:tag': tag,
      }),
    });
    assert.equal(response.status, 200);
  };

  /** Reads NDJSON lines until `enough` says so, then hangs up. */
  const readLines = async (
    path: string,
    enough: (lines: Line[]) => boolean,
    headers = {},
    giveUpMs?: number,
  ) => {
    const controller = new AbortController();
    const timer = giveUpMs ? setTimeout(() => controller.abort(), giveUpMs) : undefined;
    const response = await fetch(url(path), {
      headers: { authorization: `Bearer ${TOKEN}`, ...headers },
      signal: controller.signal,
    });
    if (response.status !== 200) assert.fail(`${response.status}: ${await response.text()}`);
    const lines: Line[] = [];
    let rest = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        rest += decoder.decode(chunk, { stream: true });
        const parts = rest.split('\n');
        rest = parts.pop() ?? '';
        for (const part of parts) {
          if (part) lines.push(JSON.parse(part) as Line);
          if (enough(lines)) return lines;
        }
      }
    } catch (error) {
      if (!(giveUpMs && controller.signal.aborted)) throw error;
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    return lines;
  };

  before(async () => {
    api = await startApiRelay('127.0.0.69', { http: { streamToken: TOKEN } });
    url = (path) => `${api.baseUrl}${path}`;
    for (let i = 0; i < 6; i++) await send(`stream${i}`, i % 2 ? 'odd' : 'even');
    await waitFor(
      () =>
        listRecipients(api.relay.readDb, {}).filter((r) => r.status === 'delivered').length >= 6,
      'six deliveries',
    );
    for (const r of listRecipients(api.relay.readDb, {})) messages.push(r.messageId);
  });
  after(async () => api.close());

  it('streams every message event from the start as NDJSON, in position order, each once', async () => {
    const lines = await readLines(
      '/v1/streams/events',
      (ls) => ls.filter((l) => l.type === 'MessageDelivered').length >= 6,
    );
    const positions = lines.map((l) => BigInt(l.position));
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    );
    assert.equal(new Set(positions).size, positions.length);
    for (const l of lines) assert.equal(l.schema, 'mailtrail.event/1');
    assert.deepEqual(
      new Set(lines.filter((l) => l.type === 'MessageAccepted').map((l) => l.messageId)),
      new Set(messages),
    );
  });

  it('a consumer that hangs up and resumes after its last position sees every event exactly once', async () => {
    const whole = await readLines(
      '/v1/streams/events',
      (ls) => ls.filter((l) => l.type === 'MessageDelivered').length >= 6,
    );
    const head = whole.at(-1)?.position as string;
    const resumed: Line[] = [];
    let after = '0';
    // Three connections, each hung up after a few lines.
    while (!resumed.some((l) => l.position === head)) {
      const part = await readLines(
        `/v1/streams/events?after=${after}`,
        (ls) => ls.length >= 5 || ls.at(-1)?.position === head,
      );
      resumed.push(...part);
      after = part.at(-1)?.position ?? after;
    }
    assert.deepEqual(
      resumed.map((l) => l.position),
      whole.map((l) => l.position),
    );
  });

  it('Server-Sent Events carry the position as the id, and Last-Event-ID resumes after it', async () => {
    const controller = new AbortController();
    const third = (await readLines('/v1/streams/events', (ls) => ls.length >= 3))[2] as Line;
    const response = await fetch(url('/v1/streams/events'), {
      headers: {
        authorization: `Bearer ${TOKEN}`,
        accept: 'text/event-stream',
        'last-event-id': third.position,
      },
      signal: controller.signal,
    });
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    let text = '';
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      text += Buffer.from(chunk).toString();
      if ((text.match(/\n\n/g) ?? []).length >= 2) break;
    }
    controller.abort();
    const first = /^id: (\d+)\nevent: (\w+)\ndata: (.+)$/m.exec(text);
    assert.ok(first, text);
    assert.ok(BigInt(first[1] as string) > BigInt(third.position));
    assert.equal((JSON.parse(first[3] as string) as Line).position, first[1]);
  });

  it('filters by domain: the sender domain, or the recipient domain', async () => {
    const bySender = await readLines(
      `/v1/streams/events?types=MessageAccepted&domain=${api.domain}`,
      (ls) => ls.length >= 6,
    );
    assert.equal(bySender.length, 6);
    const byRecipient = await readLines(
      '/v1/streams/events?types=MessageDelivered&domain=example.com',
      (ls) => ls.length >= 6,
    );
    assert.equal(byRecipient.length, 6);
    // Nothing of ours goes to or comes from example.org: the stream stays empty (cut short).
    const none = await readLines('/v1/streams/events?domain=example.org', () => false, {}, 500);
    assert.equal(none.length, 0);
  });

  it('filters by event type and tag', async () => {
    const lines = await readLines(
      '/v1/streams/events?types=MessageDelivered&tag=odd',
      (ls) => ls.length >= 3,
    );
    assert.equal(lines.length, 3);
    for (const l of lines) {
      assert.equal(l.type, 'MessageDelivered');
      assert.deepEqual(l.tags, ['odd']);
    }
  });

  it('an API key sees its own credential, and no one else’s; bad requests get clear answers', async () => {
    const own = (listCredentials(api.relay.readDb).find((c) => c.name === 'app') as { id: string })
      .id;
    const mine = await readLines(
      '/v1/streams/events?types=MessageAccepted',
      (ls) => ls.length >= 6,
      { authorization: `Bearer ${api.apiKey}` },
    );
    assert.equal(mine.length, 6);
    const refused = async (path: string, auth: string | null) => {
      const r = await fetch(
        url(path),
        auth ? { headers: { authorization: `Bearer ${auth}` } } : {},
      );
      return { status: r.status, body: (await r.json()) as { error: string } };
    };
    assert.equal((await refused('/v1/streams/events', null)).status, 401);
    assert.equal((await refused('/v1/streams/events', 'not-a-key')).status, 401);
    assert.equal((await refused(`/v1/streams/events?credential=${own}x`, api.apiKey)).status, 403);
    assert.equal((await refused('/v1/streams/accounting', api.apiKey)).status, 403);
    const bad = await refused('/v1/streams/events?after=-1', TOKEN);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /^after: /);
    assert.equal((await refused('/v1/streams/events?types=Nope', TOKEN)).status, 400);
  });

  it('streams the accounting log: one record per delivery, resumable by position', async () => {
    const lines = (await readLines('/v1/streams/accounting', (ls) => ls.length >= 6)) as Array<
      Line & { rcpt: string }
    >;
    assert.equal(lines.length, 6);
    for (const l of lines) assert.equal(l.type, 'd');
    const rest = (await readLines(
      `/v1/streams/accounting?after=${lines[2]?.position}`,
      (ls) => ls.length >= 3,
    )) as Array<Line & { rcpt: string }>;
    assert.deepEqual(
      rest.map((l) => l.rcpt),
      lines.slice(3).map((l) => l.rcpt),
    );
  });

  it('streams per-credential volume as a change feed of minute rows in their latest state', async () => {
    type Volume = Line & {
      credential: { name: string };
      minute: string;
      messages: number;
      recipients: number;
    };
    const latest = (ls: Volume[]) => new Map(ls.map((l) => [l.minute, l]));
    const total = (ls: Volume[]) =>
      [...latest(ls).values()].reduce((sum, l) => sum + l.messages, 0);
    const lines = (await readLines(
      '/v1/streams/volume',
      (ls) => total(ls as Volume[]) >= 6,
    )) as Volume[];
    assert.equal(total(lines), 6);
    for (const l of lines) {
      assert.equal(l.schema, 'mailtrail.volume/1');
      assert.equal(l.credential.name, 'app');
      assert.equal(l.recipients, l.messages, 'one recipient a message');
      assert.match(l.minute, /:00\.000Z$/);
    }
    const positions = lines.map((l) => BigInt(l.position));
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    );
    const api401 = await fetch(url('/v1/streams/volume'), {
      headers: { authorization: `Bearer ${api.apiKey}` },
    });
    assert.equal(api401.status, 403);
  });

  it('a consumer that stops reading holds a bounded buffer on the server, then gets everything', async () => {
    // 5,000 events of 4 KB: 20 MB, more than the kernel's socket buffers can hide.
    const id = messages[0] as string;
    const big = 'u'.repeat(4096);
    for (let i = 0; i < 10; i++)
      await api.relay.store.appendToStream(
        messageStream(id),
        Array.from({ length: 500 }, () => ({
          eventId: randomUUID(),
          type: 'Opened',
          data: {
            recipient: 'stream0@example.com',
            at: Date.now(),
            userAgent: big,
            ip: null,
            machine: null,
            first: false,
          },
        })),
        { expectedRevision: 'any' },
      );
    const response = await new Promise<IncomingMessage>((resolve) => {
      const r = httpRequest(
        url('/v1/streams/events?types=Opened'),
        { headers: { authorization: `Bearer ${TOKEN}` } },
        resolve,
      );
      r.end();
    });
    response.pause();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const stats = (await (
      await fetch(url('/v1/streams'), { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { streams: Array<{ sent: number; bufferedBytes: number }> };
    const held = stats.streams[0];
    assert.ok(held, 'the stream is listed');
    assert.ok(held.sent < 5000, `the server stopped reading (sent ${held.sent})`);
    assert.ok(held.bufferedBytes <= 64 * 1024, `bounded: ${held.bufferedBytes} bytes held`);
    let count = 0;
    let rest = '';
    await new Promise<void>((resolve) => {
      response.on('data', (chunk: Buffer) => {
        rest += chunk.toString();
        const parts = rest.split('\n');
        rest = parts.pop() ?? '';
        count += parts.filter(Boolean).length;
        if (count >= 5000) {
          response.destroy();
          resolve();
        }
      });
      response.resume();
    });
    assert.equal(count, 5000);
  });
});
