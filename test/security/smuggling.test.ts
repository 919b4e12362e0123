/**
 * SMTP smuggling (reference §3.1): only <CRLF>.<CRLF> ends DATA, and bare CR, bare LF and
 * NUL never make it into the log as they are: normalised (the default) or refused.
 * The outbound half (nothing bare reaches a receiver) is in delivery.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inspectLineEndings, isClean } from '../../src/domain/message-body/line-endings.js';
import { SMUGGLING_SEQUENCES } from '../../src/domain/message-body/smuggling-sequences.js';
import { acceptedMessages } from '../support/fixtures.js';
import { startTestRelay, type TestRelay } from '../support/relay-harness.js';
import { rawSmtp } from '../support/smtp-client.js';

const smuggled = (seq: string) =>
  `Subject: outer\r\n\r\nhello${seq}MAIL FROM:<smuggled@victim.example>\r\nRCPT TO:<x@sink.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n`;

const inject = async (relay: TestRelay, seq: string): Promise<string> => {
  const c = await rawSmtp(relay.smtpPort);
  await c.read();
  await c.command('EHLO client.test\r\n');
  await c.command('MAIL FROM:<a@sender.test>\r\n');
  await c.command('RCPT TO:<b@example.com>\r\n');
  await c.command('DATA\r\n');
  const reply = await c.command(smuggled(seq));
  // Anything the server took as a second transaction would answer here.
  const next = await c.command('NOOP\r\n');
  c.end();
  assert.match(
    next,
    /^250 /,
    `after ${JSON.stringify(seq)} the session is still in its first transaction`,
  );
  return reply;
};

for (const mode of ['normalize', 'reject'] as const) {
  describe(`smuggling, smtp.bareLineEndings = ${mode}`, () => {
    let relay: TestRelay;
    before(async () => {
      relay = await startTestRelay({
        smtp: { trustedNetworks: ['127.0.0.1/32'], bareLineEndings: mode },
        dns: { servers: ['127.0.0.1:9'], timeout: '100ms' },
      });
    });
    after(() => relay.cleanup());

    for (const seq of SMUGGLING_SEQUENCES) {
      it(`${JSON.stringify(seq)}: ${mode === 'normalize' ? 'one message, CRLF only' : '550 5.6.0, nothing queued'}`, async () => {
        const before = await acceptedMessages(relay.store);
        const reply = await inject(relay, seq);
        const after = await acceptedMessages(relay.store);
        if (mode === 'reject') {
          assert.match(reply, /^550 5\.6\.0 /);
          assert.equal(after.length, before.length);
          return;
        }
        assert.match(reply, /^250 2\.0\.0 /);
        assert.equal(after.length, before.length + 1);
        const { bodyRef, envelope } = (after.at(-1) as { data: unknown }).data as {
          bodyRef: string;
          envelope: { from: string };
        };
        assert.equal(envelope.from, 'a@sender.test');
        const body = Buffer.from((await relay.store.readBlob(bodyRef)) ?? []);
        assert.ok(isClean(inspectLineEndings(body)), JSON.stringify(body.toString('latin1')));
        // The would-be second message is plain body text of the first.
        assert.ok(body.toString('latin1').includes('MAIL FROM:<smuggled@victim.example>'));
      });
    }
  });
}
