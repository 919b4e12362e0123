/**
 * One-click unsubscribe (RFC 8058) over the real HTTP server: a GET only asks; a POST,
 * form-encoded or multipart, records Unsubscribed once, answers 200 without a redirect, and
 * suppresses the recipient for that sender (its From: domain) and no other.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dkimVerify } from 'mailauth';
import nodemailer from 'nodemailer';
import { createFileKeyStore } from '../src/adapters/dkim-keys/file-key-store.js';
import { createCredential } from '../src/apps/credentials/create-credential.js';
import { addSendingDomain } from '../src/apps/domains/sending-domains.js';
import { dataPaths } from '../src/apps/relay/data-paths.js';
import { targetToken } from '../src/domain/verp/verp.js';
import { findActiveCredential } from '../src/projections/credentials/credentials.js';
import { activeSigningKeys } from '../src/projections/sending-domains/sending-domains.js';
import { relayKeys } from './support/fixtures.js';
import {
  type Sink,
  startSink,
  startTestRelay,
  submit,
  type TestRelay,
  waitFor,
} from './support/relay-harness.js';
import { rawSmtp } from './support/smtp-client.js';

describe('one-click unsubscribe', () => {
  let relay: TestRelay;
  let sink: Sink; // 127.0.0.37
  let messageId: string;

  before(async () => {
    sink = await startSink('127.0.0.37');
    relay = await startTestRelay({
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      routes: { '*': `[127.0.0.37]:${sink.port}` },
    });
    // A display name nodemailer has to encode (RFC 2047), with a comma in it.
    messageId = await submit(relay.smtpPort, ['ann@example.com', 'bob@example.com'], {
      from: '"Müller, Hans" <news@shop.test>',
    });
  });
  after(async () => {
    await relay.cleanup();
    await sink.close();
  });

  const token = (recipientIndex: number) =>
    targetToken(relayKeys(relay).unsubscribe, { messageId, recipientIndex });
  const url = (t: string) => `http://127.0.0.1:${relay.httpPort}/unsubscribe/${t}`;
  const unsubscribes = async () => {
    const found = [];
    for await (const e of relay.store.readStream(`message-${messageId}`))
      if (e.type === 'Unsubscribed') found.push(e.data as { recipient: string; method: string });
    return found;
  };

  it('a GET shows the question and changes nothing', async () => {
    const page = await fetch(url(token(0)));
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<form method="post">/);
    assert.match(html, /ann@example\.com/);
    assert.match(html, /Stop mail from Müller, Hans &#60;news@shop\.test&#62;/);
    assert.deepEqual(await unsubscribes(), []);
  });

  it('a POST (form-encoded or multipart) unsubscribes once, with a 200 and no redirect', async () => {
    for (let i = 0; i < 2; i++) {
      const posted = await fetch(url(token(0)), {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
      });
      assert.equal(posted.status, 200);
      assert.equal(posted.headers.get('location'), null);
      assert.equal(await posted.text(), 'You are unsubscribed.\n');
    }
    const form = new FormData();
    form.set('List-Unsubscribe', 'One-Click');
    const multipart = await fetch(url(token(1)), { method: 'POST', body: form });
    assert.equal(multipart.status, 200);
    assert.deepEqual(
      (await unsubscribes()).map((u) => [u.recipient, u.method]),
      [
        ['ann@example.com', 'one-click'],
        ['bob@example.com', 'one-click'],
      ],
    );
  });

  it('a forged or damaged token is a 404 and records nothing', async () => {
    const bad = token(0).replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    assert.equal((await fetch(url(bad))).status, 404);
    assert.equal((await fetch(url(bad), { method: 'POST' })).status, 404);
    assert.equal((await fetch(url('nonsense'), { method: 'POST' })).status, 404);
    assert.equal((await unsubscribes()).length, 2);
  });

  it('suppresses the recipient for that sender only', async () => {
    const outcome = async (id: string) =>
      waitFor(async () => {
        for await (const e of relay.store.readStream(`message-${id}`))
          if (['MessageDelivered', 'RecipientSuppressed'].includes(e.type)) return e;
        return undefined;
      }, `message ${id} settled`);
    const same = await waitFor(async () => {
      const id = await submit(relay.smtpPort, ['ann@example.com'], { from: 'news@shop.test' });
      const e = await outcome(id);
      return e.type === 'RecipientSuppressed' && e;
    }, 'the unsubscribe in force');
    assert.deepEqual(
      [(same.data as { scope: string }).scope, (same.data as { reason: string }).reason],
      ['domain:shop.test', 'unsubscribe'],
    );
    const other = await submit(relay.smtpPort, ['ann@example.com'], { from: 'news@other.test' });
    assert.equal((await outcome(other)).type, 'MessageDelivered');
  });
});

describe('List-Unsubscribe on bulk mail', () => {
  let relay: TestRelay;
  let sink: Sink; // 127.0.0.38
  const txt = new Map<string, string>();

  before(async () => {
    sink = await startSink('127.0.0.38', {
      saveDir: mkdtempSync(join(tmpdir(), 'mailtrail-unsub-')),
    });
    relay = await startTestRelay({
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      routes: { '*': `[127.0.0.38]:${sink.port}` },
      unsubscribe: { baseUrl: 'https://mail.relay.test/unsubscribe/' },
    });
    const added = await addSendingDomain(
      {
        store: relay.store,
        readDb: relay.readDb,
        keyStore: createFileKeyStore(dataPaths(relay.config).keys),
        settings: { egressAddresses: [], bounceHost: 'relay.test', returnPathPrefix: 'bounces' },
        now: Date.now,
      },
      { domain: 'sender.test', credential: null },
    );
    for (const r of added.records) if (r.type === 'TXT') txt.set(r.name, r.value);
    await waitFor(
      () => activeSigningKeys(relay.readDb, ['sender.test']).length > 0,
      'signing keys',
    );
  });
  after(async () => {
    await relay.cleanup();
    await sink.close();
  });

  it('each recipient of a bulk message gets its own one-click link and mailto, covered by DKIM; transactional mail gets none', async () => {
    const to = ['ann@example.com', 'bob@example.com'];
    const id = await submit(relay.smtpPort, to, {
      envelope: { from: 'news@sender.test', to },
      from: 'news@sender.test',
      headers: { Precedence: 'bulk' },
    });
    await submit(relay.smtpPort, ['cy@example.com'], { from: 'app@sender.test' });
    await waitFor(() => sink.transactions.length === 3, 'three transactions');
    const key = relayKeys(relay).unsubscribe;
    for (const [recipientIndex, rcpt] of to.entries()) {
      const t = sink.transactions.find((x) => x.to[0] === rcpt);
      const bytes = readFileSync(t?.file as string);
      const head = bytes.toString('latin1').split('\r\n\r\n')[0] as string;
      const token = targetToken(key, { messageId: id, recipientIndex });
      assert.match(
        head,
        new RegExp(
          `List-Unsubscribe: <https://mail\\.relay\\.test/unsubscribe/${token.replace(/\./g, '\\.')}>, <mailto:u\\+${token.replace(/\./g, '\\.')}@bounces\\.sender\\.test>`,
        ),
      );
      assert.match(head, /List-Unsubscribe-Post: List-Unsubscribe=One-Click/);
      const results = (
        await dkimVerify(bytes, {
          resolver: async (name: string, type: string) => {
            const value = type === 'TXT' ? txt.get(name) : undefined;
            if (!value) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
            return [[value]] as never;
          },
        })
      ).results;
      assert.ok(results.length > 0);
      for (const r of results) {
        assert.equal(r.status.result, 'pass', `${rcpt}: ${r.status.comment ?? ''}`);
        const signedNames = (
          (r as unknown as { signingHeaders?: { keys?: string } }).signingHeaders?.keys ?? ''
        )
          .toLowerCase()
          .split(/:\s*/);
        assert.ok(signedNames.includes('list-unsubscribe'), 'List-Unsubscribe is signed');
        assert.ok(signedNames.includes('list-unsubscribe-post'), 'List-Unsubscribe-Post is signed');
      }
    }
    const plain = readFileSync(
      sink.transactions.find((x) => x.to[0] === 'cy@example.com')?.file as string,
      'latin1',
    );
    assert.doesNotMatch(plain.split('\r\n\r\n')[0] as string, /List-Unsubscribe/);
  });

  it('a credential can turn the headers on for all its mail or off for all of it; the message header wins', async () => {
    const PASS = 'correct horse battery staple';
    for (const [name, unsubscribe] of [
      ['always', 'on'],
      ['never', 'off'],
    ] as const)
      await createCredential(relay.store, {
        name,
        domain: 'sender.test',
        password: PASS,
        unsubscribe,
      });
    await waitFor(
      () =>
        findActiveCredential(relay.readDb, 'always@sender.test') &&
        findActiveCredential(relay.readDb, 'never@sender.test'),
      'the credentials',
    );
    const send = (user: string, to: string, headers: Record<string, string> = {}) =>
      nodemailer
        .createTransport({
          host: '127.0.0.1',
          port: relay.smtpPort,
          requireTLS: true,
          auth: { user, pass: PASS },
          tls: { rejectUnauthorized: false },
        })
        .sendMail({ from: 'news@sender.test', to, text: 'x', headers });
    await send('always@sender.test', 'transactional@example.com');
    await send('never@sender.test', 'bulk@example.com', { Precedence: 'bulk' });
    await send('never@sender.test', 'asked@example.com', {
      Precedence: 'bulk',
      'X-Mailtrail-Unsubscribe': 'on',
    });
    const head = async (rcpt: string) => {
      const t = await waitFor(() => sink.transactions.find((x) => x.to[0] === rcpt), rcpt);
      return readFileSync(t.file as string, 'latin1').split('\r\n\r\n')[0] as string;
    };
    assert.match(await head('transactional@example.com'), /List-Unsubscribe-Post:/);
    assert.doesNotMatch(await head('bulk@example.com'), /List-Unsubscribe/);
    const asked = await head('asked@example.com');
    assert.match(asked, /List-Unsubscribe-Post:/);
    assert.doesNotMatch(asked, /X-Mailtrail-Unsubscribe/, 'the control header goes no further');
  });

  it('a mail to the mailto address unsubscribes too', async () => {
    const id = await submit(relay.smtpPort, ['dee@example.com'], {
      envelope: { from: 'news@sender.test', to: ['dee@example.com'] },
      headers: { Precedence: 'bulk' },
    });
    await waitFor(() => sink.transactions.some((x) => x.to[0] === 'dee@example.com'), 'sent');
    const key = relayKeys(relay).unsubscribe;
    const token = targetToken(key, { messageId: id, recipientIndex: 0 });
    const smtp = await rawSmtp(relay.bouncePort as number);
    await smtp.read();
    await smtp.command('EHLO mua.example.com\r\n');
    await smtp.command('MAIL FROM:<dee@example.com>\r\n');
    assert.match(await smtp.command(`RCPT TO:<u+${token}@bounces.sender.test>\r\n`), /^250/);
    await smtp.command('DATA\r\n');
    assert.match(await smtp.command('Subject: unsubscribe\r\n\r\nplease\r\n.\r\n'), /^250/);
    await smtp.command('QUIT\r\n');
    const unsubscribed = await waitFor(async () => {
      for await (const e of relay.store.readStream(`message-${id}`))
        if (e.type === 'Unsubscribed') return e;
      return undefined;
    }, 'Unsubscribed');
    assert.equal((unsubscribed.data as { method: string }).method, 'mailto');
  });
});
