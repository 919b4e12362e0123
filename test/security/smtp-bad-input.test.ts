/**
 * Bad input gets a clear reply and loses nothing: each case asserts the exact SMTP reply
 * (basic and enhanced code) and that nothing was queued.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../src/apps/config/load-config.js';
import { startRelay } from '../../src/apps/relay/relay.js';
import { acceptedMessages } from '../support/fixtures.js';
import { startTestRelay, type TestRelay } from '../support/relay-harness.js';
import { type RawSmtp, rawSmtp } from '../support/smtp-client.js';

const TRUSTED = '127.0.0.9';

const session = async (port: number): Promise<RawSmtp> => {
  const c = await rawSmtp(port, '127.0.0.1', TRUSTED);
  assert.match(await c.read(), /^220 /);
  assert.match(await c.command('EHLO client.test\r\n'), /^250/);
  return c;
};

describe('bad input over SMTP', () => {
  let relay: TestRelay;
  let port: number;
  before(async () => {
    relay = await startTestRelay({
      smtp: { maxMessageSize: 100_000, maxRecipients: 100, trustedNetworks: [`${TRUSTED}/32`] },
      dns: { servers: ['127.0.0.1:9'], timeout: '100ms' },
    });
    port = relay.smtpPort;
  });
  after(() => relay.cleanup());

  const queued = async () => (await acceptedMessages(relay.store)).length;

  it('malformed addresses: 501 5.1.7 for the sender, 501 5.1.3 for a recipient', async () => {
    const c = await session(port);
    assert.match(await c.command('MAIL FROM:<a@@sender.test>\r\n'), /^501 5\.1\.7 /);
    assert.match(await c.command('MAIL FROM:<a@sender.test>\r\n'), /^250 /);
    assert.match(await c.command('RCPT TO:<not an address>\r\n'), /^501 5\.1\.3 /);
    assert.match(await c.command('RCPT TO:<user@victim.test@relay.test>\r\n'), /^501 5\.1\.3 /);
    c.end();
  });

  it('too many recipients: the 101st gets 452 4.5.3 and the first 100 stand', async () => {
    const c = await session(port);
    await c.command('MAIL FROM:<a@sender.test>\r\n');
    for (let i = 0; i < 100; i++)
      assert.match(await c.command(`RCPT TO:<r${i}@example.com>\r\n`), /^250 /);
    assert.match(await c.command('RCPT TO:<r100@example.com>\r\n'), /^452 4\.5\.3 /);
    const before = await queued();
    assert.match(await c.command('DATA\r\n'), /^354 /);
    assert.match(await c.command('Subject: many\r\n\r\nx\r\n.\r\n'), /^250 2\.0\.0 /);
    const last = (await acceptedMessages(relay.store)).at(-1)?.data as {
      envelope: { to: unknown[] };
    };
    assert.equal(await queued(), before + 1);
    assert.equal(last.envelope.to.length, 100);
    c.end();
  });

  it('oversize: a declared SIZE over the limit is 552 5.3.4 at MAIL', async () => {
    const c = await session(port);
    assert.match(await c.command('MAIL FROM:<a@sender.test> SIZE=200000\r\n'), /^552 5\.3\.4 /);
    c.end();
  });

  it('oversize: an undeclared body over the limit is 552 5.3.4 after DATA, nothing queued, session usable', async () => {
    const before = await queued();
    const c = await session(port);
    await c.command('MAIL FROM:<a@sender.test>\r\n');
    await c.command('RCPT TO:<b@example.com>\r\n');
    await c.command('DATA\r\n');
    const line = `${'x'.repeat(900)}\r\n`;
    assert.match(await c.command(`Subject: big\r\n\r\n${line.repeat(150)}.\r\n`), /^552 5\.3\.4 /);
    assert.equal(await queued(), before);
    assert.match(await c.command('MAIL FROM:<a@sender.test>\r\n'), /^250 /);
    c.end();
  });

  it('commands out of sequence: 503 5.5.1', async () => {
    const fresh = await rawSmtp(port, '127.0.0.1', TRUSTED);
    await fresh.read();
    assert.match(await fresh.command('MAIL FROM:<a@sender.test>\r\n'), /^503 5\.5\.1 /);
    fresh.end();
    const c = await session(port);
    assert.match(await c.command('RCPT TO:<b@example.com>\r\n'), /^503 5\.5\.1 /);
    assert.match(await c.command('DATA\r\n'), /^503 5\.5\.1 /);
    await c.command('MAIL FROM:<a@sender.test>\r\n');
    assert.match(await c.command('MAIL FROM:<a@sender.test>\r\n'), /^503 5\.5\.1 /);
    assert.match(await c.command('DATA\r\n'), /^503 5\.5\.1 /);
    c.end();
  });

  it('garbage and binary commands: 500 5.5.2', async () => {
    const c = await session(port);
    assert.match(await c.command('FROBNICATE now\r\n'), /^500 5\.5\.2 /);
    assert.match(
      await c.command(Buffer.from([0xff, 0xfe, 0x00, 0x81, 0x0d, 0x0a])),
      /^500 5\.5\.2 /,
    );
    c.end();
  });

  it('an overlong command line is 500 5.5.2 and is not executed', async () => {
    const c = await session(port);
    assert.match(
      await c.command(`MAIL FROM:<${'a'.repeat(1500)}@sender.test>\r\n`),
      /^500 5\.5\.2 Line too long/,
    );
    assert.match(await c.command('RCPT TO:<b@example.com>\r\n'), /^503 5\.5\.1 /);
    c.end();
  });

  it('a DATA line over 998 octets is 500 5.5.2 and nothing is queued; 998 is fine', async () => {
    const before = await queued();
    const c = await session(port);
    const send = async (length: number) => {
      await c.command('MAIL FROM:<a@sender.test>\r\n');
      await c.command('RCPT TO:<b@example.com>\r\n');
      await c.command('DATA\r\n');
      return c.command(`Subject: long\r\n\r\n${'y'.repeat(length)}\r\n.\r\n`);
    };
    assert.match(await send(999), /^500 5\.5\.2 Line too long/);
    assert.equal(await queued(), before);
    assert.match(await send(998), /^250 2\.0\.0 /);
    assert.equal(await queued(), before + 1);
    c.end();
  });

  it('a client that disconnects mid-DATA leaves nothing behind', async () => {
    const before = await queued();
    const c = await session(port);
    await c.command('MAIL FROM:<a@sender.test>\r\n');
    await c.command('RCPT TO:<b@example.com>\r\n');
    await c.command('DATA\r\n');
    c.write('Subject: cut\r\n\r\nhalf a mess');
    c.socket().destroy();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await queued(), before);
  });
});

describe('a full disk', () => {
  const root = process.getuid?.() === 0;
  it('is 451 4.3.0 with nothing half-written, and the client can retry once there is room', {
    skip: !root && 'needs root to mount a small tmpfs as a full disk',
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailtrail-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir]);
    try {
      const config = parseConfig({
        dataDir: join(dir, 'data'),
        hostname: 'relay.test',
        smtp: { listen: '127.0.0.1:0', trustedNetworks: [`${TRUSTED}/32`] },
        http: { listen: '127.0.0.1:0' },
        bounces: { listen: null },
        dns: { servers: ['127.0.0.1:9'], timeout: '100ms' },
      });
      mkdirSync(config.dataDir, { recursive: true });
      const relay = await startRelay(config, pino({ level: 'silent' }));
      try {
        // Fill what is left of the disk.
        const filler = join(dir, 'filler');
        const block = Buffer.alloc(64 * 1024, 1);
        let written = 0;
        try {
          for (;;) {
            writeFileSync(filler, block, { flag: 'a' });
            written++;
          }
        } catch {}
        assert.ok(written > 0);
        const body = `Subject: full\r\n\r\n${`${'z'.repeat(76)}\r\n`.repeat(2000)}`;
        const send = async () => {
          const c = await session(relay.smtpPort);
          await c.command('MAIL FROM:<a@sender.test>\r\n');
          await c.command('RCPT TO:<b@example.com>\r\n');
          await c.command('DATA\r\n');
          const reply = await c.command(`${body}.\r\n`);
          c.end();
          return reply;
        };
        assert.match(await send(), /^451 4\.3\.0 /);
        assert.equal((await acceptedMessages(relay.store)).length, 0);
        rmSync(filler);
        assert.match(await send(), /^250 2\.0\.0 /);
        assert.equal((await acceptedMessages(relay.store)).length, 1);
      } finally {
        await relay.stop();
      }
    } finally {
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
