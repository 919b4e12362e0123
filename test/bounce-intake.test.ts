/**
 * Out-of-band bounces and complaints end to end: mail leaves with its VERP return path;
 * reports in the formats real systems send (test/fixtures/inbound/) come back to the bounce
 * listener over SMTP and land on the original message's stream; a hard bounce and a
 * complaint suppress; forged tokens and other domains are refused at RCPT.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { onboardDomain } from './support/fixtures.js';
import {
  type Sink,
  startSink,
  startTestRelay,
  submit,
  type TestRelay,
  waitFor,
} from './support/relay-harness.js';
import { rawSmtp } from './support/smtp-client.js';

const fixture = (name: string, token: string, messageId: string) =>
  readFileSync(new URL(`./fixtures/inbound/${name}.eml`, import.meta.url), 'utf8')
    .replaceAll('{{TOKEN}}', token)
    .replaceAll('{{MESSAGE_ID}}', messageId)
    .replace(/\r?\n/g, '\r\n');

describe('out-of-band bounces and complaints', () => {
  let relay: TestRelay;
  let sink: Sink; // 127.0.0.33

  before(async () => {
    sink = await startSink('127.0.0.33');
    relay = await startTestRelay({
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      routes: { '*': `[127.0.0.33]:${sink.port}` },
    });
    await onboardDomain(relay, 'sender.test');
  });
  after(async () => {
    await relay.cleanup();
    await sink.close();
  });

  const events = async (id: string) => {
    const found = [];
    for await (const e of relay.store.readStream(`message-${id}`)) found.push(e);
    return found;
  };

  /** Sends one message and returns its id and the VERP token the sink saw. */
  const sendOne = async (to: string) => {
    const id = await submit(relay.smtpPort, [to], { envelope: { from: 'app@sender.test', to } });
    const t = await waitFor(
      () => sink.transactions.find((x) => x.from.includes(id.toLowerCase())),
      'delivered',
    );
    // The sink has the message before the relay has recorded its delivery.
    await waitFor(
      async () => (await events(id)).some((e) => e.type === 'MessageDelivered'),
      'delivery recorded',
    );
    return { id, token: (t.from.split('@')[0] as string).slice(2) };
  };

  /** Replays a report over SMTP; returns every reply. */
  const report = async (rcpt: string, body: string) => {
    const smtp = await rawSmtp(relay.bouncePort as number);
    const replies = [await smtp.read(), await smtp.command('EHLO mx.example.com\r\n')];
    replies.push(await smtp.command('MAIL FROM:<>\r\n'));
    replies.push(await smtp.command(`RCPT TO:<${rcpt}>\r\n`));
    if (replies[3]?.startsWith('250')) {
      replies.push(await smtp.command('DATA\r\n'));
      replies.push(await smtp.command(`${body.replace(/^\./gm, '..')}\r\n.\r\n`));
    }
    await smtp.command('QUIT\r\n');
    return replies;
  };

  it('a DSN for a delivered message bounces it out of band, classified, and suppresses the address', async () => {
    const { id, token } = await sendOne('alice@example.com');
    const replies = await report(
      `b+${token}@bounces.sender.test`,
      fixture('dsn-postfix', token, id),
    );
    assert.match(replies.at(-1) ?? '', /^250 /);
    const bounced = (await events(id)).find((e) => e.type === 'MessageBounced');
    const data = bounced?.data as {
      phase: string;
      reply: { enhancedCode: string };
      classification: { class: string; severity: string };
    };
    assert.equal(data.phase, 'out-of-band');
    assert.equal(data.reply.enhancedCode, '5.1.1');
    assert.deepEqual(
      [data.classification.class, data.classification.severity],
      ['InvalidRecipient', 'permanent'],
    );
    // The next message to her is not attempted.
    const next = await waitFor(async () => {
      const again = await submit(relay.smtpPort, ['alice@example.com'], {
        envelope: { from: 'app@sender.test', to: ['alice@example.com'] },
      });
      const es = await waitFor(async () => {
        const all = await events(again);
        return all.some((e) => ['MessageDelivered', 'RecipientSuppressed'].includes(e.type)) && all;
      }, 'settled');
      return es.some((e) => e.type === 'RecipientSuppressed') && es;
    }, 'suppressed');
    assert.equal(next.filter((e) => e.type === 'MessageDelivered').length, 0);
  });

  it('a complaint report sent to the feedback address finds the token inside and suppresses', async () => {
    const { id, token } = await sendOne('carol@example.com');
    const replies = await report('fbl@bounces.sender.test', fixture('arf-yahoo', token, id));
    assert.match(replies.at(-1) ?? '', /^250 /);
    const complaint = await waitFor(
      async () => (await events(id)).find((e) => e.type === 'ComplaintReceived'),
      'the complaint',
    );
    assert.equal((complaint.data as { feedbackType: string }).feedbackType, 'abuse');
    await waitFor(async () => {
      const again = await submit(relay.smtpPort, ['carol@example.com'], {
        envelope: { from: 'app@sender.test', to: ['carol@example.com'] },
      });
      const es = await waitFor(async () => {
        const all = await events(again);
        return all.some((e) => ['MessageDelivered', 'RecipientSuppressed'].includes(e.type)) && all;
      }, 'settled');
      const s = es.find((e) => e.type === 'RecipientSuppressed');
      return (s?.data as { reason?: string } | undefined)?.reason === 'complaint';
    }, 'suppressed for the complaint');
  });

  it('a delay notice, an auto-reply and a not-spam report record nothing', async () => {
    const { id, token } = await sendOne('dave@example.com');
    for (const name of ['dsn-delayed', 'bounce-autoreply', 'arf-not-spam']) {
      const replies = await report(`b+${token}@bounces.sender.test`, fixture(name, token, id));
      assert.match(replies.at(-1) ?? '', /^250 /, name);
    }
    const types = (await events(id)).map((e) => e.type);
    assert.deepEqual(
      types.filter((t) => t !== 'MessageSigned'),
      ['MessageAccepted', 'MessageDelivered'],
    );
  });

  it('refuses forged tokens, other domains and unknown mailboxes at RCPT, and relays nothing', async () => {
    const { id, token } = await sendOne('erin@example.com');
    await waitFor(
      async () => (await events(id)).some((e) => e.type === 'MessageDelivered'),
      'recorded',
    );
    const forged = `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`;
    const before = await relay.store.headPosition();
    assert.match((await report(`b+${forged}@bounces.sender.test`, 'x'))[3] ?? '', /^550 5\.7\.1 /);
    assert.match(
      (await report(`b+${token}@elsewhere.test`, 'x'))[3] ?? '',
      /^550 5\.7\.1 relaying denied/,
    );
    assert.match((await report(`b+${token}@bounces.other.test`, 'x'))[3] ?? '', /^550 5\.7\.1 /);
    assert.match((await report('someone@bounces.sender.test', 'x'))[3] ?? '', /^550 5\.1\.1 /);
    assert.equal(await relay.store.headPosition(), before, 'nothing appended');
  });
});
