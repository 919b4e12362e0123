/**
 * STARTTLS and AUTH on the submission listener (reference §3.3, §3.5), spoken byte for byte:
 * AUTH is neither offered nor taken before TLS, TLS 1.2 is the floor, nothing sent in
 * plaintext runs inside TLS and the session starts over after the handshake, failed AUTH is
 * slowed and cut off, and SASL corner cases get the exact reply.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { acceptedMessages, addCredential } from '../support/fixtures.js';
import { startTestRelay, type TestRelay } from '../support/relay-harness.js';
import { type RawSmtp, rawSmtp, submissionTransport } from '../support/smtp-client.js';

const USER = 'app@sender.test';
const PASS = 'correct horse battery staple';

const transport = (port: number, auth = { user: USER, pass: PASS }) =>
  submissionTransport(port, auth);

/** Every session opened, destroyed in after() should a failed assertion skip its end(). */
const sessions: RawSmtp[] = [];
const connect = async (...args: Parameters<typeof rawSmtp>): Promise<RawSmtp> => {
  const c = await rawSmtp(...args);
  sessions.push(c);
  return c;
};

/** Connected, EHLO, STARTTLS done, and (unless told not to) EHLO again over TLS. */
const tlsSession = async (port: number, { ehloAfter = true } = {}) => {
  const c = await connect(port);
  await c.read();
  await c.command('EHLO client.test\r\n');
  await c.command('STARTTLS\r\n');
  await c.startTls();
  if (ehloAfter) await c.command('EHLO client.test\r\n');
  return c;
};

const message = {
  from: 'app@sender.test',
  to: 'someone@example.com',
  subject: 'hello',
  text: 'hi there',
};

describe('STARTTLS and AUTH', () => {
  let relay: TestRelay;
  let port: number;
  before(async () => {
    relay = await startTestRelay({
      smtp: { maxMessageSize: 100_000, maxRecipients: 100, trustedNetworks: ['127.0.0.9/32'] },
      dns: { servers: ['127.0.0.1:9'], timeout: '100ms' },
    });
    port = relay.smtpPort;
    await addCredential(relay, USER, PASS);
  });
  after(async () => {
    for (const c of sessions) c.socket().destroy();
    await relay.cleanup();
  });

  const queued = async () => (await acceptedMessages(relay.store)).length;

  describe('before TLS', () => {
    it('EHLO offers STARTTLS but not AUTH', async () => {
      const c = await connect(port);
      assert.match(await c.read(), /^220 /);
      const ehlo = await c.command('EHLO client.test\r\n');
      assert.match(ehlo, /250-STARTTLS/);
      assert.doesNotMatch(ehlo, /AUTH/);
      assert.match(ehlo, /SIZE 100000/);
      assert.match(ehlo, /ENHANCEDSTATUSCODES/);
      c.end();
    });

    it('AUTH before STARTTLS is refused with 530 5.7.0', async () => {
      const c = await connect(port);
      await c.read();
      await c.command('EHLO client.test\r\n');
      const reply = await c.command(
        `AUTH PLAIN ${Buffer.from(`\0${USER}\0${PASS}`).toString('base64')}\r\n`,
      );
      assert.match(reply, /^530 5\.7\.0 Must issue a STARTTLS command first/);
      c.end();
    });

    it('an unauthenticated client from an untrusted address cannot relay: 530 5.7.0', async () => {
      const c = await connect(port);
      await c.read();
      await c.command('EHLO client.test\r\n');
      assert.match(
        await c.command('MAIL FROM:<a@sender.test>\r\n'),
        /^530 5\.7\.0 Authentication required/,
      );
      c.end();
    });

    it('a trusted network relays without AUTH, like Postfix mynetworks', async () => {
      const before = await queued();
      const c = await connect(port, '127.0.0.1', '127.0.0.9');
      await c.read();
      await c.command('EHLO client.test\r\n');
      assert.match(await c.command('MAIL FROM:<a@sender.test>\r\n'), /^250 /);
      assert.match(await c.command('RCPT TO:<b@example.com>\r\n'), /^250 /);
      assert.match(await c.command('DATA\r\n'), /^354 /);
      assert.match(
        await c.command('Subject: t\r\n\r\nbody\r\n.\r\n'),
        /^250 2\.0\.0 Ok: queued as /,
      );
      assert.equal(await queued(), before + 1);
      c.end();
    });
  });

  describe('TLS hardening', () => {
    it('TLS 1.1 is refused and TLS 1.2 accepted', async () => {
      const old = await connect(port);
      await old.read();
      await old.command('EHLO client.test\r\n');
      assert.match(await old.command('STARTTLS\r\n'), /^220 /);
      await assert.rejects(
        old.startTls({
          minVersion: 'TLSv1',
          maxVersion: 'TLSv1.1',
          ciphers: 'DEFAULT:@SECLEVEL=0',
        }),
      );
      const ok = await connect(port);
      await ok.read();
      await ok.command('EHLO client.test\r\n');
      await ok.command('STARTTLS\r\n');
      const tls = await ok.startTls({ maxVersion: 'TLSv1.2' });
      assert.equal(tls.getProtocol(), 'TLSv1.2');
      ok.end();
    });

    it('a plaintext fragment sent after STARTTLS is not executed inside TLS', async () => {
      const c = await connect(port);
      await c.read();
      await c.command('EHLO client.test\r\n');
      assert.match(await c.command('STARTTLS\r\nQUI'), /^220 /);
      await c.startTls();
      const reply = await c.command('T\r\n');
      assert.doesNotMatch(reply, /^221/);
      assert.match(reply, /^500 /);
      c.end();
    });

    it('after STARTTLS the session starts over: AUTH without a new EHLO is 503 5.5.1', async () => {
      const c = await tlsSession(port, { ehloAfter: false });
      const reply = await c.command(
        `AUTH PLAIN ${Buffer.from(`\0${USER}\0${PASS}`).toString('base64')}\r\n`,
      );
      assert.match(reply, /^503 5\.5\.1 /);
      const ehlo = await c.command('EHLO client.test\r\n');
      assert.match(ehlo, /250-AUTH PLAIN LOGIN/);
      c.end();
    });
  });

  describe('AUTH failures', () => {
    it('each failure is answered more slowly; the third closes the connection with 421 4.7.0', async () => {
      const c = await tlsSession(port);
      const bad = `AUTH PLAIN ${Buffer.from(`\0${USER}\0nope`).toString('base64')}\r\n`;
      const started = Date.now();
      assert.match(await c.command(bad), /^535 5\.7\.8 /);
      assert.match(await c.command(bad), /^535 5\.7\.8 /);
      assert.match(await c.command(bad), /^421 4\.7\.0 /);
      // 10 ms, then 20 ms, then 30 ms of deliberate delay (smtp.authFailureDelay = 10ms).
      assert.ok(Date.now() - started >= 60);
      await c.closed();
    });

    it('an unknown user gets the same reply as a wrong password', async () => {
      await assert.rejects(
        transport(port, { user: 'nobody@sender.test', pass: PASS }).sendMail(message),
        (e: { response?: string }) =>
          /^535 5\.7\.8 Authentication credentials invalid$/.test(e.response ?? ''),
      );
    });

    it('authorising as another identity (authzid) is refused', async () => {
      const c = await tlsSession(port);
      const token = Buffer.from(`victim@sender.test\0${USER}\0${PASS}`).toString('base64');
      assert.match(await c.command(`AUTH PLAIN ${token}\r\n`), /^535 5\.7\.8 /);
      c.end();
    });
  });

  describe('STARTTLS corner cases (§3.5)', () => {
    it('TLSI-1: STARTTLS and RSET in one write: one 220, nothing unprompted over TLS', async () => {
      const before = await queued();
      const c = await connect(port);
      await c.read();
      await c.command('EHLO client.test\r\n');
      assert.equal(await c.command('STARTTLS\r\nRSET\r\n'), '220 2.0.0 Ready to start TLS');
      await c.startTls();
      const unprompted = await Promise.race([
        c.read(),
        new Promise<string>((r) => setTimeout(() => r('(nothing)'), 1000)),
      ]);
      assert.equal(unprompted, '(nothing)');
      assert.match(await c.command('EHLO client.test\r\n'), /^250/);
      c.end();
      assert.equal(await queued(), before);
    });

    it('TLSI-4: STARTTLS with an argument is 501 5.5.4', async () => {
      const before = await queued();
      const c = await connect(port);
      await c.read();
      await c.command('EHLO client.test\r\n');
      assert.equal(await c.command('STARTTLS foo\r\n'), '501 5.5.4 Error: syntax: STARTTLS');
      c.end();
      assert.equal(await queued(), before);
    });

    it('TLSI-5: STARTTLS again inside TLS is 503 5.5.1', async () => {
      const before = await queued();
      const c = await tlsSession(port);
      assert.equal(await c.command('STARTTLS\r\n'), '503 5.5.1 Error: TLS already active');
      c.end();
      assert.equal(await queued(), before);
    });
  });

  describe('SASL corner cases (§3.3)', () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    /** Each way a username reaches the server, as the commands that carry it. */
    const carriers: Array<[string, (user: string) => string[]]> = [
      ['AUTH LOGIN, prompted', (user) => ['AUTH LOGIN\r\n', `${b64(user)}\r\n`]],
      ['AUTH LOGIN, inline', (user) => [`AUTH LOGIN ${b64(user)}\r\n`]],
      ['AUTH PLAIN authcid', (user) => [`AUTH PLAIN ${b64(`\0${user}\0${PASS}`)}\r\n`]],
      ['AUTH PLAIN authzid', (user) => [`AUTH PLAIN ${b64(`${user}\0${USER}\0${PASS}`)}\r\n`]],
    ];
    const badUsers = [
      'app\r\n@sender.test',
      'app\n@sender.test',
      'app\r@sender.test',
      'app\0x@sender.test',
    ];
    for (const [carrier, commands] of carriers)
      for (const user of badUsers)
        it(`AUTH-5: ${carrier} with ${JSON.stringify(user)} is 501 5.5.4, nothing authenticated`, async () => {
          const before = await queued();
          const c = await tlsSession(port);
          const steps = commands(user);
          for (const step of steps.slice(0, -1)) assert.match(await c.command(step), /^334 /);
          // smtp-server refuses control characters in the decoded identity itself.
          assert.equal(
            await c.command(steps.at(-1) as string),
            '501 5.5.4 Error: invalid userdata',
          );
          assert.equal(
            await c.command('MAIL FROM:<app@sender.test>\r\n'),
            '530 5.7.0 Authentication required',
          );
          c.end();
          assert.equal(await queued(), before);
        });

    it('AUTH-6: a second AUTH after success is 503 5.5.1, whatever the mechanism', async () => {
      const before = await queued();
      const c = await tlsSession(port);
      const token = b64(`\0${USER}\0${PASS}`);
      assert.equal(
        await c.command(`AUTH PLAIN ${token}\r\n`),
        '235 2.7.0 Authentication successful',
      );
      for (const again of [`AUTH PLAIN ${token}\r\n`, 'AUTH LOGIN\r\n'])
        assert.equal(
          await c.command(again),
          '503 5.5.1 Error: No identity changes permitted',
          again,
        );
      c.end();
      assert.equal(await queued(), before);
    });

    it('AUTH-7: an unknown or unoffered mechanism is 504 5.5.4', async () => {
      const before = await queued();
      const c = await tlsSession(port);
      for (const mechanism of ['CRAM-MD5', 'XOAUTH2', 'FOO'])
        assert.equal(
          await c.command(`AUTH ${mechanism}\r\n`),
          '504 5.5.4 Error: Unrecognized authentication type',
          mechanism,
        );
      c.end();
      assert.equal(await queued(), before);
    });

    const cancelled: Array<[string, string[]]> = [
      ['AUTH LOGIN, at the username', ['AUTH LOGIN\r\n']],
      ['AUTH LOGIN, at the password', ['AUTH LOGIN\r\n', `${b64(USER)}\r\n`]],
      ['AUTH PLAIN, at the token', ['AUTH PLAIN\r\n']],
    ];
    for (const [where, steps] of cancelled)
      it(`AUTH-7: * cancels ${where}: 501 5.5.4 Authentication aborted`, async () => {
        const before = await queued();
        const c = await tlsSession(port);
        for (const step of steps) assert.match(await c.command(step), /^334 /);
        assert.equal(await c.command('*\r\n'), '501 5.5.4 Authentication aborted');
        assert.equal(
          await c.command('MAIL FROM:<app@sender.test>\r\n'),
          '530 5.7.0 Authentication required',
        );
        c.end();
        assert.equal(await queued(), before);
      });
  });
});
