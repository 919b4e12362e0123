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
import { rawSmtp, submissionTransport } from '../support/smtp-client.js';

const USER = 'app@sender.test';
const PASS = 'correct horse battery staple';

const transport = (port: number, auth = { user: USER, pass: PASS }) =>
  submissionTransport(port, auth);

/** Connected, EHLO, STARTTLS done, and (unless told not to) EHLO again over TLS. */
const tlsSession = async (port: number, { ehloAfter = true } = {}) => {
  const c = await rawSmtp(port);
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
  after(() => relay.cleanup());

  const queued = async () => (await acceptedMessages(relay.store)).length;

  describe('before TLS', () => {
    it('EHLO offers STARTTLS but not AUTH', async () => {
      const c = await rawSmtp(port);
      assert.match(await c.read(), /^220 /);
      const ehlo = await c.command('EHLO client.test\r\n');
      assert.match(ehlo, /250-STARTTLS/);
      assert.doesNotMatch(ehlo, /AUTH/);
      assert.match(ehlo, /SIZE 100000/);
      assert.match(ehlo, /ENHANCEDSTATUSCODES/);
      c.end();
    });

    it('AUTH before STARTTLS is refused with 530 5.7.0', async () => {
      const c = await rawSmtp(port);
      await c.read();
      await c.command('EHLO client.test\r\n');
      const reply = await c.command(
        `AUTH PLAIN ${Buffer.from(`\0${USER}\0${PASS}`).toString('base64')}\r\n`,
      );
      assert.match(reply, /^530 5\.7\.0 Must issue a STARTTLS command first/);
      c.end();
    });

    it('an unauthenticated client from an untrusted address cannot relay: 530 5.7.0', async () => {
      const c = await rawSmtp(port);
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
      const c = await rawSmtp(port, '127.0.0.1', '127.0.0.9');
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
      const old = await rawSmtp(port);
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
      const ok = await rawSmtp(port);
      await ok.read();
      await ok.command('EHLO client.test\r\n');
      await ok.command('STARTTLS\r\n');
      const tls = await ok.startTls({ maxVersion: 'TLSv1.2' });
      assert.equal(tls.getProtocol(), 'TLSv1.2');
      ok.end();
    });

    it('a plaintext fragment sent after STARTTLS is not executed inside TLS', async () => {
      const c = await rawSmtp(port);
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
      const c = await rawSmtp(port);
      await c.read();
      await c.command('EHLO client.test\r\n');
      assert.match(await c.command('STARTTLS\r\nRSET\r\n'), /^220 [^\r\n]*$/);
      await c.startTls();
      const unprompted = await Promise.race([
        c.read(),
        new Promise<string>((r) => setTimeout(() => r('(nothing)'), 1000)),
      ]);
      assert.equal(unprompted, '(nothing)');
      assert.match(await c.command('EHLO client.test\r\n'), /^250/);
      c.end();
    });

    it('TLSI-4: STARTTLS with an argument is 501', async () => {
      const c = await rawSmtp(port);
      await c.read();
      await c.command('EHLO client.test\r\n');
      assert.match(await c.command('STARTTLS foo\r\n'), /^501 5\.5\.4 /);
      c.end();
    });

    it('TLSI-5: STARTTLS again inside TLS is 503', async () => {
      const c = await tlsSession(port);
      assert.match(await c.command('STARTTLS\r\n'), /^503 5\.5\.1 /);
      c.end();
    });
  });

  describe('SASL corner cases (§3.3)', () => {
    it('AUTH-5: a username with CR, LF or NUL in it is refused, nothing authenticated', async () => {
      for (const user of ['app\r\n@sender.test', 'app\n@sender.test', 'app\u0000x@sender.test']) {
        const c = await tlsSession(port);
        c.write('AUTH LOGIN\r\n');
        await c.read();
        // smtp-server refuses control characters in the decoded username itself.
        assert.match(
          await c.command(`${Buffer.from(user).toString('base64')}\r\n`),
          /^501 5\.5\.4 Error: invalid userdata/,
          JSON.stringify(user),
        );
        assert.match(await c.command('MAIL FROM:<app@sender.test>\r\n'), /^530 5\.7\.0 /);
        c.end();
      }
    });

    it('AUTH-6: a second AUTH after success is 503', async () => {
      const c = await tlsSession(port);
      const token = Buffer.from(`\0${USER}\0${PASS}`).toString('base64');
      assert.match(await c.command(`AUTH PLAIN ${token}\r\n`), /^235 2\.7\.0 /);
      assert.match(await c.command(`AUTH PLAIN ${token}\r\n`), /^503 5\.5\.1 /);
      c.end();
    });

    it('AUTH-7: an unknown mechanism is 504; a cancelled exchange is 501', async () => {
      const c = await tlsSession(port);
      assert.match(await c.command('AUTH CRAM-MD5\r\n'), /^504 5\.5\.4 /);
      assert.match(await c.command('AUTH LOGIN\r\n'), /^334 /);
      assert.match(await c.command('*\r\n'), /^501 5\.5\.4 /);
      c.end();
    });
  });
});
