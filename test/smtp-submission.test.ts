/**
 * The submission listener, spoken to over real SMTP: nodemailer for the happy paths, a
 * byte-exact socket client for everything a library would tidy up. Every refusal asserts
 * the exact reply and that nothing was queued.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { acceptedMessages, addCredential } from './support/fixtures.js';
import { startTestRelay, type TestRelay } from './support/relay-harness.js';
import { submissionTransport } from './support/smtp-client.js';

const execFileAsync = promisify(execFile);
const USER = 'app@sender.test';
const PASS = 'correct horse battery staple';

const transport = (port: number, auth = { user: USER, pass: PASS }) =>
  submissionTransport(port, auth);

const message = {
  from: 'app@sender.test',
  to: 'someone@example.com',
  subject: 'hello',
  text: 'hi there',
};

describe('SMTP submission', () => {
  let relay: TestRelay;
  let port: number;
  before(async () => {
    relay = await startTestRelay({
      smtp: { maxMessageSize: 100_000, maxRecipients: 100, trustedNetworks: ['127.0.0.9/32'] },
      // No route and no resolver for example.com: mail is queued and stays queued.
      dns: { servers: ['127.0.0.1:9'], timeout: '100ms' },
    });
    port = relay.smtpPort;
    await addCredential(relay, USER, PASS);
  });
  after(() => relay.cleanup());

  const queued = async () => (await acceptedMessages(relay.store)).length;

  describe('STARTTLS and AUTH (nodemailer as the client)', () => {
    it('accepts mail after STARTTLS + AUTH and replies 250 2.0.0 Ok: queued as <id> once stored', async () => {
      const before = await queued();
      const info = await transport(port).sendMail(message);
      const match = /^250 2\.0\.0 Ok: queued as ([0-9A-Z]{26})$/.exec(info.response);
      assert.ok(match, info.response);
      const stored = await acceptedMessages(relay.store);
      assert.equal(stored.length, before + 1);
      const accepted = stored.at(-1)?.data as {
        messageId: string;
        credential: { name: string };
        client: { tls: boolean };
      };
      assert.equal(accepted.messageId, match[1]);
      assert.equal(accepted.credential.name, 'app');
      assert.equal(accepted.client.tls, true);
    });

    it('AUTH LOGIN works too', async () => {
      const t = nodemailer.createTransport({
        host: '127.0.0.1',
        port,
        requireTLS: true,
        auth: { user: USER, pass: PASS, method: 'LOGIN' } as never,
        tls: { rejectUnauthorized: false },
      });
      assert.match((await t.sendMail(message)).response, /^250 2\.0\.0 /);
    });

    it('a wrong password is 535 5.7.8 and nothing is queued', async () => {
      const before = await queued();
      await assert.rejects(
        transport(port, { user: USER, pass: 'wrong' }).sendMail(message),
        (e: { response?: string }) => /^535 5\.7\.8 /.test(e.response ?? ''),
      );
      assert.equal(await queued(), before);
    });
  });

  describe('swaks, an independent SMTP client', () => {
    const hasSwaks = spawnSync('swaks', ['--version']).status === 0;
    it('submits over STARTTLS + AUTH PLAIN', {
      skip: !hasSwaks && 'swaks is not installed (.ci/run installs it)',
    }, async () => {
      // Asynchronous: the relay runs in this process and must keep answering.
      const r = await execFileAsync(
        'swaks',
        [
          '--server',
          `127.0.0.1:${port}`,
          '--tls',
          '--auth',
          'PLAIN',
          '--auth-user',
          USER,
          '--auth-password',
          PASS,
          '--from',
          'app@sender.test',
          '--to',
          'someone@example.com',
          '--timeout',
          '20',
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      assert.match(r.stdout, /<~ {2}250 2\.0\.0 Ok: queued as [0-9A-Z]{26}/);
      assert.match(r.stdout, /<~ {2}235 2\.7\.0 /);
    });
  });
});
