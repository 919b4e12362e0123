/**
 * Per-credential volume caps (limits.credentials): past a cap SMTP answers 451 4.7.1 at
 * MAIL (452 at RCPT) and each HTTP API its provider's rate-limit error; nothing over the
 * cap is stored; other credentials are not touched; the counts survive a restart.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import * as postmark from 'postmark';
import { type RunningRelay, startRelay } from '../../src/apps/relay/relay.js';
import { type ApiRelay, startApiRelay } from '../support/api-relay.js';
import { acceptedMessages, addCredential } from '../support/fixtures.js';
import { startTestRelay, type TestRelay } from '../support/relay-harness.js';
import { authenticatedSmtp, type RawSmtp } from '../support/smtp-client.js';

const PASS = 'correct horse battery staple';
const CAPPED = 'capped@sender.test';
const WIDE = 'wide@sender.test';
const FREE = 'free@sender.test';

const login = async (port: number, user: string): Promise<RawSmtp> => {
  const { client, auth } = await authenticatedSmtp(port, user, PASS);
  assert.match(auth, /^235 /);
  return client;
};

/** One message with these recipients; the final reply (or the first refusal) is returned. */
const send = async (c: RawSmtp, from: string, to: readonly string[]): Promise<string> => {
  const mail = await c.command(`MAIL FROM:<${from}>\r\n`);
  if (!mail.startsWith('250')) return mail;
  for (const rcpt of to) {
    const reply = await c.command(`RCPT TO:<${rcpt}>\r\n`);
    if (!reply.startsWith('250')) {
      await c.command('RSET\r\n');
      return reply;
    }
  }
  await c.command('DATA\r\n');
  return c.command(`From: <${from}>\r\nSubject: cap\r\n\r\nx\r\n.\r\n`);
};

const storedFrom = async (relay: TestRelay, name: string) =>
  (await acceptedMessages(relay.store)).filter(
    (e) => (e.data as { credential: { name: string } | null }).credential?.name === name,
  ).length;

describe('volume caps over SMTP', () => {
  let relay: TestRelay;
  before(async () => {
    relay = await startTestRelay({
      dns: { servers: ['127.0.0.1:9'], timeout: '100ms' },
      limits: {
        credentials: {
          '*': { hour: { messages: 1000 } },
          capped: { hour: { messages: 3 } },
          wide: { hour: { recipients: 5 } },
        },
      },
    });
    for (const user of [CAPPED, WIDE, FREE]) await addCredential(relay, user, PASS);
  });
  let restarted: RunningRelay | null = null;
  after(async () => {
    if (!restarted) return relay.cleanup();
    await restarted.stop();
    rmSync(relay.dir, { recursive: true, force: true });
  });

  it('the message over the hourly cap is 451 4.7.1 at MAIL, with when to try again', async () => {
    const c = await login(relay.smtpPort, CAPPED);
    for (let i = 0; i < 3; i++)
      assert.match(await send(c, CAPPED, [`r${i}@example.com`]), /^250 2\.0\.0 /);
    const refused = await send(c, CAPPED, ['r3@example.com']);
    assert.match(
      refused,
      /^451 4\.7\.1 Credential capped has reached its limit of 3 messages per hour; try again after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/,
    );
    const retryAt = Date.parse(/after (\S+)/.exec(refused)?.[1] ?? '');
    assert.ok(retryAt > Date.now() + 58 * 60_000 && retryAt <= Date.now() + 60 * 60_000);
    assert.equal(await storedFrom(relay, 'capped'), 3);
    await c.command('QUIT\r\n');
  });

  it('another credential keeps sending meanwhile', async () => {
    const c = await login(relay.smtpPort, FREE);
    assert.match(await send(c, FREE, ['x@example.com']), /^250 2\.0\.0 /);
    await c.command('QUIT\r\n');
  });

  it('recipients: the one past the cap is 452 at RCPT; a message larger than the cap, 452 4.5.3', async () => {
    const c = await login(relay.smtpPort, WIDE);
    // Six recipients can never fit under five an hour: the sixth is "too many recipients".
    const six = ['a', 'b', 'c', 'd', 'e', 'f'].map((l) => `${l}@example.com`);
    assert.match(
      await send(c, WIDE, six),
      /^452 4\.5\.3 This message has 6 recipients; credential wide may send 5 recipients per hour/,
    );
    assert.match(await send(c, WIDE, six.slice(0, 3)), /^250 2\.0\.0 /);
    // Three used: the third of these would make six, so it waits for the hour to roll.
    assert.match(
      await send(c, WIDE, six.slice(3)),
      /^452 4\.7\.1 Credential wide has reached its limit of 5 recipients per hour; try again after /,
    );
    assert.match(await send(c, WIDE, six.slice(3, 5)), /^250 2\.0\.0 /);
    const stored = (await acceptedMessages(relay.store))
      .map((e) => e.data as { credential: { name: string } | null; envelope: { to: unknown[] } })
      .filter((d) => d.credential?.name === 'wide')
      .map((d) => d.envelope.to.length);
    assert.deepEqual(stored, [3, 2]);
    await c.command('QUIT\r\n');
  });

  it('the counts survive a restart', async () => {
    await relay.stop();
    restarted = await startRelay(relay.config, pino({ level: 'silent' }));
    const c = await login(restarted.smtpPort, CAPPED);
    assert.match(await send(c, CAPPED, ['late@example.com']), /^451 4\.7\.1 /);
    await c.command('QUIT\r\n');
  });
});

describe("volume caps over the HTTP APIs: each provider's rate-limit error", () => {
  let api: ApiRelay;
  before(async () => {
    // Two messages an hour for the API relay's credential (named app), shared by all three APIs.
    api = await startApiRelay('127.0.0.62', {
      limits: { credentials: { app: { hour: { messages: 2 } } } },
    });
  });
  after(() => api.close());

  const mailgun = (to: string) =>
    fetch(`${api.baseUrl}/v3/${api.domain}/messages`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`api:${api.apiKey}`).toString('base64')}` },
      body: new URLSearchParams({ from: `a@${api.domain}`, to, subject: 's', text: 't' }),
    });
  const sendgrid = (to: string) =>
    fetch(`${api.baseUrl}/v3/mail/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        personalizations: [{ to: [{ email: to }] }],
        from: { email: `a@${api.domain}` },
        subject: 's',
        content: [{ type: 'text/plain', value: 't' }],
      }),
    });
  const postmarkBody = (to: string) => ({
    From: `a@${api.domain}`,
    To: to,
    Subject: 's',
    TextBody: 't',
  });

  it('under the cap every API takes mail; past it Mailgun answers 429 in its words', async () => {
    assert.equal((await mailgun('one@example.com')).status, 200);
    assert.equal((await sendgrid('two@example.com')).status, 202);
    const refused = await mailgun('three@example.com');
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 3500);
    const { message } = (await refused.json()) as { message: string };
    assert.match(
      message,
      new RegExp(
        `^Domain ${api.domain} is not allowed to send: request limit exceeded, try again after \\w{3}, \\d\\d \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000$`,
      ),
    );
  });

  it('SendGrid answers 429 in its errors shape', async () => {
    const refused = await sendgrid('four@example.com');
    assert.equal(refused.status, 429);
    const body = (await refused.json()) as { errors: Array<Record<string, unknown>> };
    assert.equal(body.errors.length, 1);
    assert.match(String(body.errors[0]?.message), /limit of 2 messages per hour/);
    assert.equal(body.errors[0]?.field, null);
  });

  it('postmark.js gets a RateLimitExceededError, and a batch answers ErrorCode 429 per message', async () => {
    const client = new postmark.ServerClient(api.apiKey, {
      useHttps: false,
      requestHost: api.baseUrl.replace('http://', ''),
    });
    const error = await client.sendEmail(postmarkBody('five@example.com')).then(
      () => assert.fail('sent past the cap'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof postmark.Errors.RateLimitExceededError, String(error));
    assert.equal((error as postmark.Errors.PostmarkError).code, 429);
    const batch = await client.sendEmailBatch([postmarkBody('six@example.com')]);
    assert.equal(batch[0]?.ErrorCode, 429);
  });

  it('nothing past the cap was stored', async () => {
    assert.equal(await storedFrom(api.relay, 'app'), 2);
  });
});

describe('volume caps and tracked messages: a message stored once per recipient is taken whole', () => {
  let api: ApiRelay;
  before(async () => {
    api = await startApiRelay('127.0.0.63', {
      limits: { credentials: { app: { hour: { messages: 2 } } } },
      tracking: { baseUrl: 'https://track.shop.test/t' },
    });
  });
  after(() => api.close());

  it('a tracked message whose copies would pass the cap is refused whole, and the next still fits', async () => {
    const client = new postmark.ServerClient(api.apiKey, {
      useHttps: false,
      requestHost: api.baseUrl.replace('http://', ''),
    });
    const tracked = {
      From: `a@${api.domain}`,
      To: 'ann@example.com, bob@example.com',
      Subject: 'tracked',
      HtmlBody: '<p>hello</p>',
      TrackOpens: true,
    };
    const single = (To: string) => ({ From: `a@${api.domain}`, To, Subject: 's', TextBody: 't' });
    assert.equal((await client.sendEmail(single('cy@example.com'))).ErrorCode, 0);
    // One message left under the cap: the tracked one is two.
    const batch = await client.sendEmailBatch([tracked, single('dan@example.com')]);
    assert.deepEqual(
      batch.map((r) => r.ErrorCode),
      [429, 0],
    );
    assert.equal(await storedFrom(api.relay, 'app'), 2, 'none of the tracked copies');
    await api.receivedBytes('dan@example.com');
  });
});
