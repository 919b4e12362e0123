/**
 * A stop does not wait on a receiving MX: attempts still under way after
 * `delivery.stopGrace` are abandoned, nothing is recorded of them, and the mail goes out
 * after the restart, as a first attempt.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { messageStream } from '../src/domain/message/events.js';
import { onboardDomain, streamEvents } from './support/fixtures.js';
import {
  type Sink,
  startSink,
  startTestRelay,
  submit,
  type TestRelay,
  waitFor,
} from './support/relay-harness.js';

const listen = (server: Server, host: string): Promise<number> =>
  new Promise((resolve) => {
    server.listen(0, host, () => resolve((server.address() as { port: number }).port));
  });

describe('stopping the relay while deliveries hang', () => {
  // 127.0.0.74: takes the connection, never greets. 127.0.0.75: greets, takes the whole
  // message, never answers the final dot. Both far inside the relay's own timeouts.
  const silent = new Set<Socket>();
  const tarpit = createServer((socket) => silent.add(socket.on('error', () => {})));
  // The recipients of each message an MX took whole; it answers the first final dot after
  // `firstAnswerMs` (null: never) and no later one.
  const stallingMx = (firstAnswerMs: number | null) => {
    const transactions: string[][] = [];
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        stream.resume();
        stream.on('end', () => {
          transactions.push(session.envelope.rcptTo.map((r) => r.address));
          if (transactions.length === 1 && firstAnswerMs !== null)
            setTimeout(() => callback(), firstAnswerMs);
        });
      },
    });
    return { smtp: server, transactions };
  };
  const stall = stallingMx(null);
  // 127.0.0.77: answers the first message, never the next final dot.
  const halfway = stallingMx(0);
  const half = halfway.transactions;
  // 127.0.0.79: answers the first message after 3 s (within the 5 s grace), never the next one.
  const slowly = stallingMx(3000);
  const slow = slowly.transactions;
  let sink: Sink;
  const ports = { tarpit: 0, stall: 0, halfway: 0, slowly: 0 };
  // Relays still to stop (cleanup stops them and removes their folders).
  const running: TestRelay[] = [];

  before(async () => {
    ports.tarpit = await listen(tarpit, '127.0.0.74');
    ports.stall = await listen(stall.smtp.server, '127.0.0.75');
    ports.halfway = await listen(halfway.smtp.server, '127.0.0.77');
    ports.slowly = await listen(slowly.smtp.server, '127.0.0.79');
    sink = await startSink('127.0.0.76');
  });
  after(async () => {
    for (const r of running) await r.cleanup();
    for (const socket of silent) socket.destroy();
    await Promise.all([
      new Promise<void>((r) => tarpit.close(() => r())),
      new Promise<void>((r) => stall.smtp.close(() => r())),
      new Promise<void>((r) => halfway.smtp.close(() => r())),
      new Promise<void>((r) => slowly.smtp.close(() => r())),
      sink.close(),
    ]);
  });

  const start = async (route: string, dataDir?: string, extra: Record<string, unknown> = {}) => {
    const relay = await startTestRelay({
      ...extra,
      ...(dataDir ? { dataDir } : {}),
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      routes: { '*': route },
      delivery: {
        connectTimeout: '10m',
        stopGrace: '300ms',
        ...(extra.delivery as Record<string, unknown> | undefined),
      },
    });
    running.push(relay);
    return relay;
  };

  /** Stops a relay stuck on its MX and restarts it on the same data, towards the sink. */
  const stopAndRestart = async (relay: TestRelay, messageId: string, recipient: string) => {
    running.splice(running.indexOf(relay), 1);
    await relay.stop();
    const again = await start(`[127.0.0.76]:${sink.port}`, relay.config.dataDir);
    const events = await waitFor(async () => {
      const e = await streamEvents(again.store, messageStream(messageId));
      return e.some((x) => x.type === 'MessageDelivered') && e;
    }, 'MessageDelivered after the restart');
    assert.ok(sink.transactions.some((t) => t.to.includes(recipient)));
    return events;
  };

  it('an MX that never greets: the stop does not wait for its greeting', {
    timeout: 60_000,
  }, async () => {
    const relay = await start(`[127.0.0.74]:${ports.tarpit}`);
    const id = await submit(relay.smtpPort, ['ann@example.com']);
    await waitFor(() => silent.size > 0, 'the connection to the tarpit');
    const events = await stopAndRestart(relay, id, 'ann@example.com');
    assert.deepEqual(
      events.map((e) => e.type),
      ['MessageAccepted', 'MessageDelivered'],
      'the abandoned attempt left nothing on record',
    );
    assert.equal((events[1]?.data as { attempt?: number } | undefined)?.attempt, 1);
  });

  it('an MX that never answers the final dot: the stop abandons the transaction', {
    timeout: 60_000,
  }, async () => {
    const relay = await start(`[127.0.0.75]:${ports.stall}`);
    const id = await submit(relay.smtpPort, ['bob@example.com']);
    await waitFor(() => stall.transactions.length > 0, 'the whole message at the stalling MX');
    const events = await stopAndRestart(relay, id, 'bob@example.com');
    assert.deepEqual(
      events.map((e) => e.type),
      ['MessageAccepted', 'MessageDelivered'],
    );
  });

  it('a message sent one recipient at a time (VERP): what was delivered before the stop is recorded, the rest goes after', {
    timeout: 60_000,
  }, async () => {
    const relay = await start(`[127.0.0.77]:${ports.halfway}`);
    // Onboarded: its mail gets a return path per recipient (VERP).
    await onboardDomain(relay, 'sender.test');
    const id = await submit(relay.smtpPort, ['cy@example.com', 'di@example.com']);
    await waitFor(() => half.length === 2, 'two transactions at the MX');
    const [first, second] = half.map(([only, ...more]) => {
      assert.deepEqual(more, [], 'one recipient a transaction');
      return only as string;
    });
    const events = await stopAndRestart(relay, id, second as string);
    const delivered = events
      .filter((e) => e.type === 'MessageDelivered')
      .map((e) => (e.data as { recipient: string }).recipient);
    assert.deepEqual(delivered, [first, second], 'the first on record before the stop');
    assert.ok(
      !sink.transactions.some((t) => t.to.includes(first as string)),
      'the recipient delivered before the stop is not sent again',
    );
  });

  it("attempts waiting for their site's connection rate do not hold the stop either", {
    timeout: 40_000,
  }, async () => {
    const rules = join(mkdtempSync(join(tmpdir(), 'mailtrail-rules-')), 'shaping.yaml');
    // One connection now, the next in 30 s: the first hangs at the tarpit, the rest wait.
    writeFileSync(rules, 'default:\n  connectionRate: 2/m\n  maxConnections: 5\n');
    const before = silent.size;
    const relay = await start(`[127.0.0.74]:${ports.tarpit}`, undefined, {
      shaping: { files: [rules] },
    });
    const ids = [];
    for (const to of ['eve@example.com', 'fox@example.com', 'gus@example.com'])
      ids.push(await submit(relay.smtpPort, [to]));
    await waitFor(() => silent.size > before, 'the first connection to the tarpit');
    await new Promise((resolve) => setTimeout(resolve, 300)); // the others reach the rate
    running.splice(running.indexOf(relay), 1);
    await relay.stop();
    const again = await start(`[127.0.0.76]:${sink.port}`, relay.config.dataDir);
    for (const id of ids)
      await waitFor(async () => {
        const events = await streamEvents(again.store, messageStream(id));
        return events.some((e) => e.type === 'MessageDelivered');
      }, `${id} delivered after the restart`);
  });

  it('once stopping, no new transaction starts: the next recipient of a VERP message waits for the restart', {
    timeout: 60_000,
  }, async () => {
    const relay = await start(`[127.0.0.79]:${ports.slowly}`, undefined, {
      delivery: { stopGrace: '5s' },
    });
    // Onboarded: its mail gets a return path per recipient (VERP).
    await onboardDomain(relay, 'sender.test');
    const id = await submit(relay.smtpPort, ['hal@example.com', 'ida@example.com']);
    await waitFor(() => slow.length === 1, 'the first transaction at the MX');
    // The stop begins while the first waits for its answer, which comes within the grace.
    running.splice(running.indexOf(relay), 1);
    await relay.stop();
    assert.equal(slow.length, 1, 'the second transaction was not started');
    const again = await start(`[127.0.0.76]:${sink.port}`, relay.config.dataDir);
    await waitFor(async () => {
      const events = await streamEvents(again.store, messageStream(id));
      return events.filter((e) => e.type === 'MessageDelivered').length === 2;
    }, 'both recipients delivered');
  });
});
