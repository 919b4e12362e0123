/**
 * Addresses beyond ASCII (RFC 6531) toward a receiver that does not offer SMTPUTF8: a
 * domain goes as its A-label, a local part that only SMTPUTF8 can carry bounces with
 * 5.6.7 rather than go out raw; a receiver that offers it gets the addresses as they are.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { messageStream } from '../src/domain/message/events.js';
import { streamEvents } from './support/fixtures.js';
import { type RawMx, startRawMx } from './support/raw-mx.js';
import {
  type Sink,
  startSink,
  startTestRelay,
  submit,
  type TestRelay,
  waitFor,
} from './support/relay-harness.js';
import { rawSmtp } from './support/smtp-client.js';

type Outcome = { recipient: string; reply: { code: number; enhancedCode: string; text: string } };

describe('SMTPUTF8 toward the receiver', () => {
  let relay: TestRelay;
  let ascii: Sink; // 127.0.0.87: no SMTPUTF8
  let utf8: Sink; // 127.0.0.88: SMTPUTF8
  let raw: RawMx; // 127.0.0.89: no SMTPUTF8, and shows the commands as they came

  before(async () => {
    ascii = await startSink('127.0.0.87', { smtpUtf8: false });
    utf8 = await startSink('127.0.0.88');
    raw = await startRawMx('127.0.0.89', ['PIPELINING', '8BITMIME']);
    relay = await startTestRelay({
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      routes: {
        'plain.test': `[127.0.0.87]:${ascii.port}`,
        'münchen.test': `[127.0.0.89]:${raw.port}`,
        'utf8.test': `[127.0.0.88]:${utf8.port}`,
      },
      // One transaction for all of a message's recipients at a site (no VERP).
      bounces: { fallbackDomain: null },
    });
  });
  after(async () => {
    await relay.cleanup();
    await ascii.close();
    await utf8.close();
    await raw.close();
  });

  /** nodemailer sends a domain beyond ASCII without SMTPUTF8, which the relay refuses. */
  const submitUtf8 = async (to: string): Promise<string> => {
    const smtp = await rawSmtp(relay.smtpPort);
    await smtp.read();
    await smtp.command('EHLO client.test\r\n');
    await smtp.command('MAIL FROM:<app@sender.test> SMTPUTF8\r\n');
    assert.match(await smtp.command(Buffer.from(`RCPT TO:<${to}>\r\n`)), /^250 /);
    await smtp.command('DATA\r\n');
    const queued = await smtp.command(
      Buffer.from(`From: app@sender.test\r\nTo: ${to}\r\nSubject: hi\r\n\r\nhello\r\n.\r\n`),
    );
    await smtp.command('QUIT\r\n');
    return /queued as (\S+)$/.exec(queued)?.[1] ?? assert.fail(queued);
  };

  const outcomes = (id: string, count: number) =>
    waitFor(async () => {
      const found = (await streamEvents(relay.store, messageStream(id))).filter((e) =>
        ['MessageDelivered', 'MessageBounced', 'DeliveryDeferred'].includes(e.type),
      );
      return found.length === count && found;
    }, `${count} outcomes of ${id}`);

  it('a local part beyond ASCII bounces with 5.6.7; the others of the message go', async () => {
    const id = await submit(relay.smtpPort, ['josé@plain.test', 'ann@plain.test']);
    const events = await outcomes(id, 2);
    const bounced = events.find((e) => e.type === 'MessageBounced')?.data as Outcome;
    const delivered = events.find((e) => e.type === 'MessageDelivered')?.data as Outcome;
    assert.equal(bounced.recipient, 'josé@plain.test');
    assert.deepEqual([bounced.reply.code, bounced.reply.enhancedCode], [553, '5.6.7']);
    assert.match(bounced.reply.text, /SMTPUTF8/);
    assert.equal(delivered.recipient, 'ann@plain.test');
    assert.deepEqual(
      ascii.transactions.flatMap((t) => t.to),
      ['ann@plain.test'],
    );
  });

  it('a sender beyond ASCII: nothing goes, every recipient bounces with 5.6.7', async () => {
    const id = await submit(relay.smtpPort, ['cy@plain.test'], {
      envelope: { from: 'andré@sender.test', to: ['cy@plain.test'] },
    });
    const [bounced] = await outcomes(id, 1);
    assert.equal(bounced?.type, 'MessageBounced');
    assert.equal((bounced.data as Outcome).reply.enhancedCode, '5.6.7');
    assert.equal(ascii.transactions.filter((t) => t.to.includes('cy@plain.test')).length, 0);
  });

  it('a domain beyond ASCII goes as its A-label', async () => {
    const id = await submitUtf8('bob@münchen.test');
    const [delivered] = await outcomes(id, 1);
    assert.equal(delivered?.type, 'MessageDelivered');
    assert.equal((delivered.data as Outcome).recipient, 'bob@münchen.test');
    assert.ok(raw.commands.includes('RCPT TO:<bob@xn--mnchen-3ya.test>'), raw.commands.join('\n'));
    assert.ok(!raw.commands.some((c) => c.includes('SMTPUTF8')));
  });

  it('a receiver that offers SMTPUTF8 gets the address as it is', async () => {
    const id = await submit(relay.smtpPort, ['josé@utf8.test']);
    const [delivered] = await outcomes(id, 1);
    assert.equal(delivered?.type, 'MessageDelivered');
    assert.deepEqual(
      utf8.transactions.flatMap((t) => t.to),
      ['josé@utf8.test'],
    );
  });
});
