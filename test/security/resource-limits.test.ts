/**
 * Resource limits (reference §3.9) and unauthenticated pipelining: each case asserts the
 * exact reply, that nothing was queued, and that the limit was counted (GET /metrics) and
 * logged with the client's address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { acceptedMessages } from '../support/fixtures.js';
import { startTestRelay, type TestRelay } from '../support/relay-harness.js';
import { type RawSmtp, rawSmtp } from '../support/smtp-client.js';

const TRUSTED = '127.0.0.9';

describe('resource limits on the submission listener', () => {
  let relay: TestRelay;
  const logLines: string[] = [];
  const open = new Set<RawSmtp>();
  const connect = async (from: string): Promise<{ client: RawSmtp; greeting: string }> => {
    const client = await rawSmtp(relay.smtpPort, '127.0.0.1', from);
    open.add(client);
    return { client, greeting: await client.read() };
  };
  /** Greeted and EHLO done, from the trusted address (which may relay without AUTH). */
  const session = async (): Promise<RawSmtp> => {
    const { client, greeting } = await connect(TRUSTED);
    assert.match(greeting, /^220 /);
    assert.match(await client.command('EHLO client.test\r\n'), /^250/);
    return client;
  };
  const queued = async () => (await acceptedMessages(relay.store)).length;
  const metric = async (reason: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${relay.httpPort}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`mailtrail_smtp_limit_total{reason="${reason}"}`));
    return line ? Number(line.split(' ')[1]) : 0;
  };
  const logged = (reason: string) =>
    logLines.map((l) => JSON.parse(l)).filter((l) => l.reason === reason);

  before(async () => {
    relay = await startTestRelay(
      {
        smtp: {
          trustedNetworks: [`${TRUSTED}/32`],
          maxClientsPerAddress: 3,
          maxHeaderSize: 8192,
          maxHeaderFields: 100,
          socketTimeout: '2s',
          commandDeadline: '3s',
          dataDeadline: '3s',
          sessionDeadline: '8s',
          errorLimits: { soft: 3, hard: 5, sleep: '1s' },
        },
        dns: { servers: ['127.0.0.1:9'], timeout: '100ms' },
      },
      logLines,
    );
  });
  after(async () => {
    for (const c of open) c.socket().destroy();
    await relay.cleanup();
  });

  it('LIM-4: the connection over the per-address limit gets 421 4.7.0; other addresses do not notice', async () => {
    const three = await Promise.all([1, 2, 3].map(() => connect('127.0.0.20')));
    for (const { greeting } of three) assert.match(greeting, /^220 /);
    const fourth = await connect('127.0.0.20');
    assert.match(
      fourth.greeting,
      /^421 4\.7\.0 Too many connections from 127\.0\.0\.20, try again later/,
    );
    await fourth.client.closed();
    assert.match((await connect('127.0.0.21')).greeting, /^220 /);
    // A closed one frees its place.
    three[0]?.client.end();
    await three[0]?.client.closed();
    await sleep(100);
    assert.match((await connect('127.0.0.20')).greeting, /^220 /);
    assert.equal(await metric('connections-per-address'), 1);
    assert.equal(logged('connections-per-address')[0]?.client, '127.0.0.20');
  });

  it('trusted networks are not held to the per-address limit (Postfix exempts mynetworks too)', async () => {
    const many = await Promise.all([1, 2, 3, 4, 5].map(() => connect(TRUSTED)));
    for (const { greeting } of many) assert.match(greeting, /^220 /);
    for (const { client } of many) client.end();
  });

  it('LIM-7: a command trickled a byte at a time is cut at the command deadline, whatever the idle timeout', async () => {
    const c = await session();
    let cut = false;
    void c.closed().then(() => {
      cut = true;
    });
    for (const byte of 'NOOP and a very slow rest of the line') {
      if (cut) break;
      c.write(byte);
      await sleep(400); // well inside the 2 s idle timeout
    }
    assert.ok(cut, 'the trickling client was never cut off');
    const reply = await c.read();
    assert.match(reply, /^421 4\.4\.2 Command took too long, closing connection/);
    assert.ok((await metric('command-deadline')) >= 1);
  });

  it('LIM-8: a message trickled line by line is cut at the DATA deadline, nothing queued', async () => {
    const before = await queued();
    const c = await session();
    await c.command('MAIL FROM:<a@sender.test>\r\n');
    await c.command('RCPT TO:<b@example.com>\r\n');
    assert.match(await c.command('DATA\r\n'), /^354 /);
    let reply = '';
    for (let i = 0; i < 20 && !reply; i++) {
      c.write(`line ${i}\r\n`);
      reply = await Promise.race([c.read(), sleep(500).then(() => '')]);
    }
    assert.match(reply, /^421 4\.4\.2 Message took too long, closing connection/);
    await c.closed();
    assert.equal(await queued(), before);
    assert.equal(await metric('data-deadline'), 1);
  });

  it('the session deadline ends a connection kept busy with NOOPs', async () => {
    const c = await session();
    let reply = '';
    for (let i = 0; i < 30 && !reply.startsWith('421'); i++) {
      reply = await c.command('NOOP\r\n');
      if (!reply.startsWith('421')) await sleep(500);
    }
    assert.match(reply, /^421 4\.4\.2 Session time limit reached, closing connection/);
    assert.equal(await metric('session-deadline'), 1);
  });

  it('LIM-6: an idle client is timed out with 421 and counted', async () => {
    const c = await session();
    assert.match(await c.read(), /^421 /);
    assert.ok((await metric('idle-timeout')) >= 1);
  });

  it('a whole transaction sent before the 354 is 554 5.5.0 and the client is cut off; nothing queued', async () => {
    const before = await queued();
    const c = await session();
    c.write(
      'MAIL FROM:<a@sender.test>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: stuffed\r\n\r\nhi\r\n.\r\nQUIT\r\n',
    );
    await c.closed();
    const replies = await c.read();
    assert.match(replies, /^250 .*\r\n250 .*\r\n554 5\.5\.0 Error: SMTP protocol synchronization$/);
    assert.equal(await queued(), before);
    assert.equal(await metric('pipelining'), 1);
  });

  it('pipelining within the rules (MAIL, RCPT and DATA in one write, then the message) is fine', async () => {
    const before = await queued();
    const c = await session();
    c.write('MAIL FROM:<a@sender.test>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n');
    let replies = '';
    while (!/354 /.test(replies)) replies += `${await c.read()}\r\n`;
    assert.match(replies, /^250 .*\r\n250 .*\r\n354 /);
    assert.match(await c.command('Subject: ok\r\n\r\nhi\r\n.\r\n'), /^250 2\.0\.0 /);
    assert.equal(await queued(), before + 1);
    c.end();
  });

  it('EHLO with more sent behind it is 554 5.5.0', async () => {
    const { client } = await connect(TRUSTED);
    client.write('EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\n');
    await client.closed();
    assert.match(await client.read(), /^554 5\.5\.0 Error: SMTP protocol synchronization$/);
  });

  const sendWithHeaders = async (headers: string): Promise<string> => {
    const c = await session();
    await c.command('MAIL FROM:<a@sender.test>\r\n');
    await c.command('RCPT TO:<b@example.com>\r\n');
    await c.command('DATA\r\n');
    const reply = await c.command(`${headers}Subject: h\r\n\r\nbody\r\n.\r\n`);
    c.end();
    return reply;
  };

  it('a header section over maxHeaderSize is 552 5.3.4, nothing queued', async () => {
    const before = await queued();
    const big = `X-Big: ${'a'.repeat(900)}\r\n`.repeat(10);
    assert.match(
      await sendWithHeaders(big),
      /^552 5\.3\.4 Message header section too big \(8192 octets at most\)/,
    );
    assert.equal(await queued(), before);
  });

  it('more header fields than maxHeaderFields is 552 5.3.4, nothing queued; the limit itself is fine', async () => {
    const before = await queued();
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-F${i}: ${i}\r\n`).join('');
    assert.match(
      await sendWithHeaders(fields(100)),
      /^552 5\.3\.4 Message has too many header fields \(100 at most\)/,
    );
    assert.equal(await queued(), before);
    // 99 of ours and the Subject: exactly 100.
    assert.match(await sendWithHeaders(fields(99)), /^250 2\.0\.0 /);
    assert.equal(await metric('header-size'), 2);
  });

  it('refusal after refusal: slowed past the soft limit, cut off past the hard one (Postfix error limits)', async () => {
    const { client, greeting } = await connect('127.0.0.22');
    assert.match(greeting, /^220 /);
    await client.command('EHLO client.test\r\n');
    const took: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      assert.match(await client.command('MAIL FROM:<a@sender.test>\r\n'), /^530 5\.7\.0 /);
      took.push(Date.now() - started);
    }
    // The 4th and 5th refusals waited the second; the first three did not (a wide margin:
    // a busy machine can hold any reply back a few hundred ms).
    assert.ok(
      took.slice(0, 3).every((ms) => ms < 750),
      String(took),
    );
    assert.ok(
      took.slice(3).every((ms) => ms >= 980),
      String(took),
    );
    assert.match(
      await client.command('MAIL FROM:<a@sender.test>\r\n'),
      /^421 4\.7\.0 Too many errors, closing connection/,
    );
    await client.closed();
    assert.equal(await metric('error-limit'), 1);
  });

  it('every limit above left a log line naming the client', () => {
    for (const reason of ['command-deadline', 'data-deadline', 'pipelining', 'header-size'])
      assert.ok(
        logged(reason).every((l) => l.client === TRUSTED) && logged(reason).length > 0,
        reason,
      );
  });
});

describe('the total connection limit', () => {
  let relay: TestRelay;
  before(async () => {
    relay = await startTestRelay({ smtp: { maxClients: 2 } });
  });
  after(() => relay.cleanup());

  it('the connection over smtp.maxClients gets 421 4.7.0 and is counted', async () => {
    const open = await Promise.all([1, 2].map(() => rawSmtp(relay.smtpPort)));
    for (const c of open) assert.match(await c.read(), /^220 /);
    const third = await rawSmtp(relay.smtpPort, '127.0.0.1', '127.0.0.23');
    assert.match(
      await third.read(),
      /^421 4\.7\.0 relay\.test Too many connected clients, try again in a moment/,
    );
    await third.closed();
    const text = await (await fetch(`http://127.0.0.1:${relay.httpPort}/metrics`)).text();
    assert.match(text, /mailtrail_smtp_limit_total\{reason="connections-total"\} 1/);
    for (const c of open) c.socket().destroy();
  });
});
