/**
 * Open relay (reference: smtp-security-reliability.md §3.2, RELAY-1 … RELAY-20), over real
 * SMTP with the byte-exact client:
 *
 * - the submission port refuses every nmap smtp-open-relay variant from an unauthenticated,
 *   untrusted client (RELAY-1 … RELAY-16), whatever the case of the domain (RELAY-17), and
 *   XCLIENT / XFORWARD cannot make it trust the client (RELAY-20);
 * - a trusted or authenticated client still gets 501 5.1.3 for the relay-hack address forms
 *   (RELAY-7 … RELAY-14) and 550 5.7.1 for address literals, an SSRF pivot (RELAY-19);
 * - routing never interprets `%` or `!` in a local part (RELAY-5, -6, -15, -16);
 * - the bounce/complaint MX listener (no AUTH) takes mail for its own domain only.
 *
 * Every refusal asserts the exact reply (basic and enhanced code) and that nothing was queued.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { acceptedMessages, addCredential, streamEvents } from '../support/fixtures.js';
import {
  type Sink,
  startSink,
  startTestRelay,
  type TestRelay,
  waitFor,
} from '../support/relay-harness.js';
import { type RawSmtp, rawSmtp } from '../support/smtp-client.js';

const TRUSTED = '127.0.0.9';
const USER = 'app@sender.test';
const PASS = 'correct horse battery staple';

/** Sessions still open: a failed assertion leaves its session behind, `hangUp` ends them. */
const clients = new Set<RawSmtp>();
const hangUp = () => {
  for (const c of clients) c.socket().destroy();
  clients.clear();
};

/** Connected from `localAddress` (an untrusted 127.0.0.1 unless told), greeted, EHLO done. */
const session = async (port: number, localAddress?: string): Promise<RawSmtp> => {
  const c = await rawSmtp(port, '127.0.0.1', localAddress);
  clients.add(c);
  assert.match(await c.read(), /^220 /);
  assert.match(await c.command('EHLO client.test\r\n'), /^250/);
  return c;
};

/** QUIT, and the server's 221 (a bare FIN would leave the session open until shutdown). */
const quit = async (c: RawSmtp): Promise<void> => {
  assert.match(await c.command('QUIT\r\n'), /^221 /);
  clients.delete(c);
};

/** STARTTLS, EHLO again, AUTH PLAIN as USER: an authenticated tenant. */
const authenticatedSession = async (port: number): Promise<RawSmtp> => {
  const c = await session(port);
  assert.match(await c.command('STARTTLS\r\n'), /^220 /);
  await c.startTls();
  assert.match(await c.command('EHLO client.test\r\n'), /^250/);
  const token = Buffer.from(`\0${USER}\0${PASS}`).toString('base64');
  assert.match(await c.command(`AUTH PLAIN ${token}\r\n`), /^235 2\.7\.0 /);
  return c;
};

const queuedCount = async (relay: TestRelay) => (await acceptedMessages(relay.store)).length;

const NEED_AUTH = /^530 5\.7\.0 Authentication required/;
const OUT_OF_SEQUENCE = /^503 5\.5\.1 /;
const BAD_RCPT = /^501 5\.1\.3 /;

/**
 * nmap's smtp-open-relay variants. `{local}` is the relay's own domain, [127.0.0.1] its address
 * literal; the victim is always victim.test. nmap sends RELAY-5 … 16 from antispam@[ip].
 */
const NMAP_VARIANTS = [
  { id: 'RELAY-1', from: '<>', rcpt: '<relaytest@victim.test>' },
  { id: 'RELAY-2', from: '<antispam@victim.test>', rcpt: '<relaytest@victim.test>' },
  { id: 'RELAY-3', from: '<antispam@{local}>', rcpt: '<relaytest@victim.test>' },
  { id: 'RELAY-4', from: '<antispam@[127.0.0.1]>', rcpt: '<relaytest@victim.test>' },
  { id: 'RELAY-5', from: '<antispam@[127.0.0.1]>', rcpt: '<relaytest%victim.test@[127.0.0.1]>' },
  { id: 'RELAY-6', from: '<antispam@[127.0.0.1]>', rcpt: '<relaytest%victim.test@{local}>' },
  { id: 'RELAY-7', from: '<antispam@[127.0.0.1]>', rcpt: '<"relaytest@victim.test">' },
  { id: 'RELAY-8', from: '<antispam@[127.0.0.1]>', rcpt: '<"relaytest%victim.test">' },
  { id: 'RELAY-9', from: '<antispam@[127.0.0.1]>', rcpt: '<relaytest@victim.test@[127.0.0.1]>' },
  {
    id: 'RELAY-10',
    from: '<antispam@[127.0.0.1]>',
    rcpt: '<"relaytest@victim.test"@[127.0.0.1]>',
  },
  { id: 'RELAY-11', from: '<antispam@[127.0.0.1]>', rcpt: '<relaytest@victim.test@{local}>' },
  { id: 'RELAY-12', from: '<antispam@[127.0.0.1]>', rcpt: '<@[127.0.0.1]:relaytest@victim.test>' },
  { id: 'RELAY-13', from: '<antispam@[127.0.0.1]>', rcpt: '<@{local}:relaytest@victim.test>' },
  { id: 'RELAY-14', from: '<antispam@[127.0.0.1]>', rcpt: '<victim.test!relaytest>' },
  { id: 'RELAY-15', from: '<antispam@[127.0.0.1]>', rcpt: '<victim.test!relaytest@[127.0.0.1]>' },
  { id: 'RELAY-16', from: '<antispam@[127.0.0.1]>', rcpt: '<victim.test!relaytest@{local}>' },
] as const;

/** RELAY-7 … 14: the relay-hack address forms the reference wants refused as syntax. */
const SYNTAX_VARIANTS = new Set([
  'RELAY-7',
  'RELAY-8',
  'RELAY-9',
  'RELAY-10',
  'RELAY-11',
  'RELAY-12',
  'RELAY-13',
  'RELAY-14',
]);

/**
 * Source routes (RELAY-12, -13): smtp-server 3.21 no longer refuses them; it strips the
 * route to the final hop (RFC 5321 §4.1.2: accept, and ignore the route), so the parser
 * does not answer 501 and the final hop meets the relay check.
 */
const SOURCE_ROUTES = new Set(['RELAY-12', 'RELAY-13']);
const PARSER_REFUSES = new Set([...SYNTAX_VARIANTS].filter((id) => !SOURCE_ROUTES.has(id)));

const fill = (template: string, local: string) => template.replaceAll('{local}', local);

describe('open relay: unauthenticated client from an untrusted address, submission port', () => {
  let relay: TestRelay;
  before(async () => {
    // No trusted networks: 127.0.0.1 is just another client on the Internet.
    relay = await startTestRelay({ dns: { servers: ['127.0.0.1:9'], timeout: '100ms' } });
  });
  after(async () => {
    hangUp();
    await relay.cleanup();
  });

  describe('nmap smtp-open-relay variants (RELAY-1 … RELAY-16): MAIL is 530 5.7.0, RCPT never 250', () => {
    for (const v of NMAP_VARIANTS) {
      // The parser answers a malformed address before it looks at the session state.
      const rcptReply = PARSER_REFUSES.has(v.id) ? BAD_RCPT : OUT_OF_SEQUENCE;
      it(`${v.id}: MAIL FROM:${fill(v.from, 'relay.test')} RCPT TO:${fill(v.rcpt, 'relay.test')}`, async () => {
        const before = await queuedCount(relay);
        const c = await session(relay.smtpPort);
        assert.match(await c.command(`MAIL FROM:${fill(v.from, 'relay.test')}\r\n`), NEED_AUTH);
        assert.match(await c.command(`RCPT TO:${fill(v.rcpt, 'relay.test')}\r\n`), rcptReply);
        assert.match(await c.command('DATA\r\n'), OUT_OF_SEQUENCE);
        assert.equal(await queuedCount(relay), before);
        await quit(c);
      });
    }
  });

  it('RELAY-17: <x@VICTIM.test> and <x@victim.test> get the same refusals', async () => {
    const before = await queuedCount(relay);
    const replies = [];
    for (const rcpt of ['x@VICTIM.test', 'x@victim.test']) {
      const c = await session(relay.smtpPort);
      const mail = await c.command(`MAIL FROM:<antispam@${rcpt.split('@')[1]}>\r\n`);
      const rcptReply = await c.command(`RCPT TO:<${rcpt}>\r\n`);
      assert.match(mail, NEED_AUTH);
      assert.match(rcptReply, OUT_OF_SEQUENCE);
      replies.push([mail, rcptReply]);
      await quit(c);
    }
    assert.deepEqual(replies[0], replies[1]);
    assert.equal(await queuedCount(relay), before);
  });

  describe('RELAY-20: XCLIENT and XFORWARD do not make an untrusted client trusted', () => {
    it('EHLO advertises neither', async () => {
      const c = await rawSmtp(relay.smtpPort);
      clients.add(c);
      await c.read();
      assert.doesNotMatch(await c.command('EHLO client.test\r\n'), /XCLIENT|XFORWARD/);
      await quit(c);
    });
    for (const command of ['XCLIENT ADDR=1.2.3.4', 'XFORWARD ADDR=1.2.3.4']) {
      it(`${command} is refused and MAIL is still 530 5.7.0`, async () => {
        const before = await queuedCount(relay);
        const c = await session(relay.smtpPort);
        assert.match(await c.command(`${command}\r\n`), /^550 5\.7\.0 Error: Not allowed$/);
        assert.match(await c.command('MAIL FROM:<antispam@victim.test>\r\n'), NEED_AUTH);
        assert.match(await c.command('RCPT TO:<relaytest@victim.test>\r\n'), OUT_OF_SEQUENCE);
        assert.equal(await queuedCount(relay), before);
        await quit(c);
      });
    }
  });
});

describe('open relay: trusted and authenticated clients, address forms', () => {
  let relay: TestRelay;
  before(async () => {
    relay = await startTestRelay({
      smtp: { trustedNetworks: [`${TRUSTED}/32`] },
      dns: { servers: ['127.0.0.1:9'], timeout: '100ms' },
      // The production default (the harness turns it off to reach its loopback sinks).
      delivery: { blockLocalAddresses: true },
    });
    await addCredential(relay, USER, PASS);
  });
  after(async () => {
    hangUp();
    await relay.cleanup();
  });

  describe('RELAY-7 … RELAY-14 from a trusted network: 501 5.1.3, nothing queued', () => {
    for (const v of NMAP_VARIANTS.filter((x) => PARSER_REFUSES.has(x.id))) {
      const rcpt = fill(v.rcpt, 'relay.test');
      it(`${v.id}: RCPT TO:${rcpt}`, async () => {
        const before = await queuedCount(relay);
        const c = await session(relay.smtpPort, TRUSTED);
        assert.match(await c.command('MAIL FROM:<app@sender.test>\r\n'), /^250 /);
        assert.match(await c.command(`RCPT TO:${rcpt}\r\n`), BAD_RCPT);
        assert.match(await c.command('DATA\r\n'), OUT_OF_SEQUENCE);
        assert.equal(await queuedCount(relay), before);
        await quit(c);
      });
    }
  });

  // A route is stripped to its final hop (RFC 5321 §4.1.2 and Postfix for trusted clients):
  // the message is for that hop's domain, which this client may relay to anyway, and no
  // route host is ever contacted.
  describe('RELAY-12, -13 from a trusted network: the source route is dropped, never followed', () => {
    for (const v of NMAP_VARIANTS.filter((x) => SOURCE_ROUTES.has(x.id))) {
      const rcpt = fill(v.rcpt, 'relay.test');
      it(`${v.id}: RCPT TO:${rcpt} is taken for relaytest@victim.test`, async () => {
        const before = await queuedCount(relay);
        const c = await session(relay.smtpPort, TRUSTED);
        assert.match(await c.command('MAIL FROM:<app@sender.test>\r\n'), /^250 /);
        assert.match(await c.command(`RCPT TO:${rcpt}\r\n`), /^250 2\.1\.5 /);
        assert.match(await c.command('DATA\r\n'), /^354 /);
        assert.match(await c.command('Subject: route\r\n\r\nx\r\n.\r\n'), /^250 2\.0\.0 /);
        await quit(c);
        assert.equal(await queuedCount(relay), before + 1);
        const last = (await acceptedMessages(relay.store)).at(-1)?.data as {
          envelope: { to: Array<{ address: string }> };
        };
        assert.deepEqual(
          last.envelope.to.map((t) => t.address),
          ['relaytest@victim.test'],
        );
      });
    }
  });

  describe('RELAY-19: address literals are refused at RCPT with 550 5.7.1 (no SSRF pivot)', () => {
    const literals = ['<x@[127.0.0.1]>', '<x@[10.0.0.1]>', '<x@[IPv6:::1]>'];
    const clients = [
      { who: 'trusted network', open: (port: number) => session(port, TRUSTED) },
      { who: 'authenticated tenant', open: authenticatedSession },
    ];
    for (const { who, open } of clients)
      for (const rcpt of literals)
        it(`${who}: RCPT TO:${rcpt}`, async () => {
          const before = await queuedCount(relay);
          const c = await open(relay.smtpPort);
          assert.match(await c.command(`MAIL FROM:<${USER}>\r\n`), /^250 /);
          assert.match(await c.command(`RCPT TO:${rcpt}\r\n`), /^550 5\.7\.1 /);
          assert.match(await c.command('DATA\r\n'), OUT_OF_SEQUENCE);
          assert.equal(await queuedCount(relay), before);
          await quit(c);
        });
  });
});

describe('open relay: routing never interprets % or ! in a local part', () => {
  let relay: TestRelay;
  let sinkA: Sink; // 127.0.0.1: local.test
  let sinkB: Sink; // 127.0.0.2: victim.test, must never be reached

  before(async () => {
    sinkA = await startSink('127.0.0.1');
    sinkB = await startSink('127.0.0.2');
    relay = await startTestRelay({
      smtp: { trustedNetworks: [`${TRUSTED}/32`] },
      dns: { servers: ['127.0.0.1:9'], timeout: '100ms' },
      routes: {
        'local.test': `[127.0.0.1]:${sinkA.port}`,
        'victim.test': `[127.0.0.2]:${sinkB.port}`,
      },
    });
  });
  after(async () => {
    hangUp();
    await relay.cleanup();
    await Promise.all([sinkA.close(), sinkB.close()]);
  });

  for (const rcpt of ['relaytest%victim.test@local.test', 'victim.test!relaytest@local.test']) {
    it(`${rcpt} is delivered to local.test with its local part intact`, async () => {
      const c = await session(relay.smtpPort, TRUSTED);
      assert.match(await c.command('MAIL FROM:<app@sender.test>\r\n'), /^250 /);
      assert.match(await c.command(`RCPT TO:<${rcpt}>\r\n`), /^250 /);
      assert.match(await c.command('DATA\r\n'), /^354 /);
      const reply = await c.command('Subject: hack\r\n\r\nbody\r\n.\r\n');
      await quit(c);
      const id = /^250 2\.0\.0 Ok: queued as ([0-9A-Z]{26})$/.exec(reply)?.[1];
      assert.ok(id, reply);
      const delivered = await waitFor(
        async () =>
          (await streamEvents(relay.store, `message-${id}`)).find(
            (e) => e.type === 'MessageDelivered' || e.type === 'MessageBounced',
          ),
        `message ${id} to settle`,
      );
      assert.equal(delivered.type, 'MessageDelivered');
      const atA = sinkA.transactions.filter((t) => t.to.includes(rcpt));
      assert.equal(atA.length, 1);
      assert.deepEqual(atA[0]?.to, [rcpt]);
      assert.equal(sinkB.transactions.length, 0);
      assert.equal(sinkB.peakConnections(), 0);
    });
  }
});

describe('open relay: the bounce/complaint MX listener (no AUTH)', () => {
  let relay: TestRelay;
  let port: number;
  // The listener's own domain: bounces.<hostname> (bounces.fallbackDomain).
  const OWN = 'bounces.relay.test';
  before(async () => {
    relay = await startTestRelay({ dns: { servers: ['127.0.0.1:9'], timeout: '100ms' } });
    port = relay.bouncePort as number;
    assert.ok(port);
  });
  after(async () => {
    hangUp();
    await relay.cleanup();
  });

  const RELAY_DENIED = /^550 5\.7\.1 relaying denied/;
  const NO_MAILBOX = /^550 5\.1\.1 no such mailbox here/;
  /** What the listener must answer at RCPT: never 250 for anything but its own mailboxes. */
  const expected: Record<string, RegExp> = {
    'RELAY-5': RELAY_DENIED,
    // `relaytest%victim.test` is a local mailbox name here, and there is none.
    'RELAY-6': NO_MAILBOX,
    'RELAY-15': RELAY_DENIED,
    'RELAY-16': NO_MAILBOX,
    // The route is stripped; the final hop, victim.test, is not ours.
    'RELAY-12': RELAY_DENIED,
    'RELAY-13': RELAY_DENIED,
  };

  describe('nmap smtp-open-relay variants (RELAY-1 … RELAY-16): RCPT never 250', () => {
    for (const v of NMAP_VARIANTS) {
      const from = fill(v.from, OWN);
      const rcpt = fill(v.rcpt, OWN);
      const want = PARSER_REFUSES.has(v.id) ? BAD_RCPT : (expected[v.id] ?? RELAY_DENIED);
      it(`${v.id}: MAIL FROM:${from} RCPT TO:${rcpt}`, async () => {
        const before = await queuedCount(relay);
        const c = await session(port);
        assert.match(await c.command(`MAIL FROM:${from}\r\n`), /^250 /);
        assert.match(await c.command(`RCPT TO:${rcpt}\r\n`), want);
        assert.match(await c.command('DATA\r\n'), OUT_OF_SEQUENCE);
        assert.equal(await queuedCount(relay), before);
        await quit(c);
      });
    }
  });

  it('RELAY-17: <x@VICTIM.test> and <x@victim.test> are both 550 5.7.1', async () => {
    const c = await session(port);
    assert.match(await c.command('MAIL FROM:<>\r\n'), /^250 /);
    const upper = await c.command('RCPT TO:<x@VICTIM.test>\r\n');
    const lower = await c.command('RCPT TO:<x@victim.test>\r\n');
    assert.match(upper, RELAY_DENIED);
    assert.equal(upper, lower);
    await quit(c);
  });

  it('RELAY-17: its own domain in upper case is still its own (postmaster 250 either way)', async () => {
    const c = await session(port);
    assert.match(await c.command('MAIL FROM:<>\r\n'), /^250 /);
    assert.match(await c.command(`RCPT TO:<postmaster@${OWN.toUpperCase()}>\r\n`), /^250 /);
    assert.match(await c.command(`RCPT TO:<postmaster@${OWN}>\r\n`), /^250 /);
    assert.match(await c.command('RSET\r\n'), /^250 /);
    await quit(c);
  });

  describe('RELAY-20: XCLIENT and XFORWARD', () => {
    for (const command of ['XCLIENT ADDR=1.2.3.4', 'XFORWARD ADDR=1.2.3.4']) {
      it(`${command} is refused and a foreign RCPT is still 550 5.7.1`, async () => {
        const c = await session(port);
        assert.match(await c.command(`${command}\r\n`), /^550 5\.7\.0 Error: Not allowed$/);
        assert.match(await c.command('MAIL FROM:<>\r\n'), /^250 /);
        assert.match(await c.command('RCPT TO:<relaytest@victim.test>\r\n'), RELAY_DENIED);
        await quit(c);
      });
    }
  });
});
