/**
 * The Mailgun front door driven by the official SDK (mailgun.js with form-data), pointed at
 * the real fastify server: what it sends arrives at the sink signed, with the headers,
 * bodies and attachments asked for; batches, scheduling, test mode and require-tls do what
 * Mailgun's do; errors come back as mailgun.js parses them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import FormData from 'form-data';
import libmime from 'libmime';
import Mailgun from 'mailgun.js';
import * as postmark from 'postmark';
import { loadOrCreateTls } from '../../src/adapters/tls/self-signed.js';
import type { MessageAccepted } from '../../src/domain/message/events.js';
import { listRecipients } from '../../src/projections/delivery-queue/queries.js';
import { type ApiRelay, startApiRelay } from '../support/api-relay.js';
import { acceptedMessages, firstOutcome, streamEvents } from '../support/fixtures.js';
import { postMailgunMultipart, type RawPart } from '../support/mailgun-multipart.js';
import { waitFor } from '../support/relay-harness.js';
import { BIN, REPO } from '../support/relay-process.js';
import { createTestCa } from '../support/test-ca.js';

type Accepted = MessageAccepted['data'];

/** The first outcome recorded for the message sent to this recipient. */
const outcomeFor = async (api: ApiRelay, recipient: string) => {
  const accepted = await waitFor(
    async () =>
      (await acceptedMessages(api.relay.store)).find((e) =>
        (e.data as Accepted).envelope.to.some((t) => t.address === recipient),
      ),
    `${recipient} accepted`,
  );
  const e = await firstOutcome(api.relay.store, (accepted.data as Accepted).messageId);
  return { type: e.type, ...(e.data as object) } as {
    type: string;
    reply: { code: number; enhancedCode: string; text: string };
    remote: { tls: boolean; tlsVerified?: boolean };
  };
};

describe('Mailgun API with mailgun.js', () => {
  let api: ApiRelay;
  let mg: ReturnType<Mailgun['client']>;

  before(async () => {
    api = await startApiRelay('127.0.0.61');
    mg = new Mailgun(FormData as never).client({
      username: 'api',
      key: api.apiKey,
      url: api.baseUrl,
    });
  });
  after(async () => api.close());

  const acceptedFor = async (messageIdHeader: string): Promise<Accepted[]> =>
    (await acceptedMessages(api.relay.store))
      .map((e) => e.data as Accepted)
      .filter((d) => d.headers.messageId === messageIdHeader);

  it('sends one message with names, cc, bcc, both bodies, an attachment, an inline image and custom headers', async () => {
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
      'base64',
    );
    const result = await mg.messages.create(api.domain, {
      from: 'Shop Team <team@shop.test>',
      to: ['Ann Example <ann@example.com>'],
      cc: 'cat@example.com',
      bcc: 'bea@example.com',
      subject: 'Your order ✓',
      text: 'Thanks for your order.',
      html: '<p>Thanks! <img src="cid:logo.png"></p>',
      'h:X-Order': '1234',
      'h:Reply-To': 'help@shop.test',
      'o:tag': ['orders', 'Receipts'],
      'v:order-id': '1234',
      attachment: [
        { data: Buffer.from('a,b\n1,2\n'), filename: 'order.csv', contentType: 'text/csv' },
      ],
      inline: [{ data: png, filename: 'logo.png', contentType: 'image/png' }],
    });
    assert.equal(result.status, 200);
    assert.equal(result.message, 'Queued. Thank you.');
    assert.match(result.id ?? '', /^<[0-9A-Z]{26}@shop\.test>$/);

    const bytes = await api.receivedBytes('ann@example.com');
    const mail = await api.received('ann@example.com');
    assert.equal(mail.from?.value[0]?.name, 'Shop Team');
    assert.equal(mail.subject, 'Your order ✓');
    assert.equal(mail.messageId, result.id);
    assert.equal(mail.headers.get('x-order'), '1234');
    assert.equal((mail.headers.get('reply-to') as { text: string }).text, 'help@shop.test');
    assert.equal(mail.headers.has('bcc'), false, 'Bcc never shows');
    assert.equal(mail.text?.trim(), 'Thanks for your order.');
    // mailparser inlines cid: images as data URIs; the raw message keeps the reference.
    assert.match(bytes.toString('latin1'), /<img src=3D"cid:logo\.png">|<img src="cid:logo\.png">/);
    const csv = mail.attachments.find((a) => a.filename === 'order.csv');
    assert.equal(csv?.content.toString(), 'a,b\n1,2\n');
    const logo = mail.attachments.find((a) => a.contentId === '<logo.png>');
    assert.ok(logo?.content.equals(png), 'the inline image, by its cid');
    const dkim = await api.dkim(bytes);
    assert.ok(dkim.length > 0);
    for (const r of dkim) assert.deepEqual([r.domain, r.result], ['shop.test', 'pass']);
    // Cc and Bcc are envelope recipients of the same message.
    await api.receivedBytes('cat@example.com');
    await api.receivedBytes('bea@example.com');

    const [accepted] = await acceptedFor(result.id as string);
    assert.equal(accepted?.source, 'mailgun');
    assert.deepEqual(accepted?.tags, ['orders', 'receipts']);
    assert.deepEqual(accepted?.metadata, { 'order-id': '1234' });
    assert.deepEqual(accepted?.envelope.to.map((t) => t.address).sort(), [
      'ann@example.com',
      'bea@example.com',
      'cat@example.com',
    ]);
  });

  it('batch sending: each To gets its own message with its %recipient.x% values, all under one id', async () => {
    const to = ['dan@example.com', 'eve@example.com', 'fay@example.com'];
    const result = await mg.messages.create(api.domain, {
      from: 'team@shop.test',
      to,
      subject: 'Hello %recipient.first%',
      text: 'Your code is %recipient.code%.',
      'v:code': '%recipient.code%',
      'recipient-variables': JSON.stringify({
        'dan@example.com': { first: 'Dan', code: 'D1' },
        'eve@example.com': { first: 'Eve', code: 'E2' },
        'fay@example.com': { first: 'Fay', code: 'F3' },
      }),
    });
    const accepted = await acceptedFor(result.id as string);
    assert.equal(accepted.length, 3, 'one message per recipient');
    assert.equal(new Set(accepted.map((a) => a.batchId)).size, 1);
    for (const address of to) {
      const mail = await api.received(address);
      const first = address[0]?.toUpperCase() + address.slice(1, 3);
      assert.equal(mail.subject, `Hello ${first}`);
      assert.equal((mail.to as { text: string }).text, address, 'nobody sees the others');
      const code = `${address[0]?.toUpperCase()}${to.indexOf(address) + 1}`;
      assert.equal(mail.text?.trim(), `Your code is ${code}.`);
      const own = accepted.find((a) => a.envelope.to[0]?.address === address);
      assert.deepEqual(own?.metadata, { code });
    }
  });

  it('h:reply-to in any case sets Reply-To; a %recipient.x% with no such variable stays as written', async () => {
    const result = await mg.messages.create(api.domain, {
      from: 'team@shop.test',
      to: ['kay@example.com'],
      subject: 'Hello %recipient.first%',
      // constructor is no variable of Kay's, though every object has one by inheritance.
      text: 'Hi %recipient.first% %recipient.constructor%',
      'h:reply-to': 'Help <help@shop.test>',
      'recipient-variables': JSON.stringify({ 'kay@example.com': { first: 'Kay' } }),
    });
    assert.match(result.id as string, /^</);
    const mail = await api.received('kay@example.com');
    assert.equal(mail.subject, 'Hello Kay');
    assert.equal(mail.text?.trim(), 'Hi Kay %recipient.constructor%');
    assert.deepEqual((mail.replyTo as { value: unknown[] } | undefined)?.value, [
      { address: 'help@shop.test', name: 'Help' },
    ]);
  });

  it('h:X-Mailgun-Sending-Ip-Pool picks one of our egress pools: one we do not have is refused', async () => {
    await assert.rejects(
      mg.messages.create(api.domain, {
        from: 'team@shop.test',
        to: ['kay@example.com'],
        text: 'pooled',
        'h:X-Mailgun-Sending-Ip-Pool': 'no-such-pool',
      }),
      (e: { status: number; details: string }) =>
        e.status === 400 && /no egress pool named no-such-pool/.test(e.details),
    );
  });

  it('takes form-encoded posts as Mailgun does', async () => {
    const response = await fetch(`${api.baseUrl}/v3/${api.domain}/messages`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`api:${api.apiKey}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams([
        ['from', 'team@shop.test'],
        ['to', 'gus@example.com'],
        ['to', 'hal@example.com'],
        ['subject', 'form'],
        ['text', 'encoded'],
      ]),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { id: string; message: string };
    assert.equal(body.message, 'Queued. Thank you.');
    assert.equal((await api.received('hal@example.com')).subject, 'form');
    assert.equal((await acceptedFor(body.id))[0]?.envelope.to.length, 2);
  });

  const field = (name: string, value: string | Buffer, type?: string): RawPart => ({
    name,
    value: typeof value === 'string' ? Buffer.from(value) : value,
    ...(type ? { type } : {}),
  });

  it('reads a multipart field in the charset its part names, UTF-8 when it names none', async () => {
    const response = await postMailgunMultipart(api, [
      field('from', 'team@shop.test'),
      field('to', 'jo@example.com'),
      field('subject', Buffer.from('Caf\xe9 cr\xe8me', 'latin1'), 'text/plain; charset=ISO-8859-1'),
      field('text', 'Crème brûlée'),
    ]);
    assert.equal(response.status, 200, await response.clone().text());
    const received = await api.received('jo@example.com');
    assert.equal(received.subject, 'Café crème');
    assert.equal(received.text?.trim(), 'Crème brûlée');
  });

  it('takes a multipart body with a preamble before its first boundary (RFC 2046)', async () => {
    const response = await postMailgunMultipart(
      api,
      [
        field('from', 'team@shop.test'),
        field('to', 'pia@example.com'),
        field('subject', 'preamble'),
        field('text', 'after a preamble'),
      ],
      'This is a multi-part message in MIME format.\r\n',
    );
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal((await api.received('pia@example.com')).subject, 'preamble');
  });

  it('messages.mime sends the client MIME as built, to the envelope it names', async () => {
    const mime = [
      'From: Shop <team@shop.test>',
      'To: ivy@example.com',
      'Subject: prebuilt',
      'Message-ID: <prebuilt-1@shop.test>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'built by the client',
      '',
    ].join('\r\n');
    const result = await mg.messages.create(api.domain, {
      to: ['ivy@example.com', 'jon@example.com'],
      message: Buffer.from(mime),
    });
    assert.equal(result.id, '<prebuilt-1@shop.test>');
    const mail = await api.received('jon@example.com');
    assert.equal(mail.subject, 'prebuilt');
    assert.equal(mail.text?.trim(), 'built by the client');
    assert.equal((await api.dkim(await api.receivedBytes('ivy@example.com')))[0]?.result, 'pass');
  });

  it('messages.mime adds the h: fields atop the client MIME, encoded; one the MIME has already is refused', async () => {
    const mime = (id: string) =>
      Buffer.from(
        [
          'From: Shop <team@shop.test>',
          'To: lou@example.com',
          'Subject: prebuilt with extras',
          `Message-ID: <${id}@shop.test>`,
          'MIME-Version: 1.0',
          'Content-Type: text/plain; charset=utf-8',
          '',
          'built by the client',
          '',
        ].join('\r\n'),
      );
    await mg.messages.create(api.domain, {
      to: ['lou@example.com'],
      message: mime('prebuilt-2'),
      'h:X-Campaign': 'Café crème',
    });
    const raw = (await api.receivedBytes('lou@example.com')).toString('latin1');
    assert.match(raw, /^X-Campaign: =\?UTF-8\?Q\?Caf=C3=A9_cr=C3=A8me\?=\r$/m, 'RFC 2047');
    assert.ok(raw.indexOf('X-Campaign:') < raw.indexOf('From: Shop'), 'atop the client MIME');
    /** A 400 for messages.mime with this MIME and one h: field, its details matching. */
    const refused = (message: Buffer, field: string, value: string, details: RegExp) =>
      assert.rejects(
        mg.messages.create(api.domain, { to: ['lou@example.com'], message, [field]: value }),
        (e: { status: number; details: string }) => e.status === 400 && details.test(e.details),
      );
    const another = '<another@shop.test>';
    await refused(mime('prebuilt-3'), 'h:Message-ID', another, /already has a Message-ID/);
    // The same with the client's lines ending in bare LFs.
    const bareLf = Buffer.from(mime('prebuilt-4').toString('latin1').replaceAll('\r\n', '\n'));
    await refused(bareLf, 'h:Message-ID', another, /already has a Message-ID/);
    // Mailgun's IP pool header picks one of our pools here too: this relay has none.
    await refused(
      mime('prebuilt-5'),
      'h:X-Mailgun-Sending-Ip-Pool',
      'no-such-pool',
      /no egress pool named no-such-pool/,
    );
  });

  it('long h: values on both endpoints arrive whole in lines of at most 998 octets: folded, or encoded when a run has no blank', async () => {
    const token = `eyJhbGciOiJIUzI1NiJ9.${'QUJD'.repeat(500)}`; // 2 KB, no blank
    const words = `${'campaign autumn sale '.repeat(60)}Grüße`.trim(); // 1.3 KB of words
    const mime = Buffer.from(
      'From: team@shop.test\r\nTo: nia@example.com\r\nSubject: mime long\r\n\r\nx\r\n',
    );
    await mg.messages.create(api.domain, {
      from: 'team@shop.test',
      to: 'mo@example.com',
      subject: 'long headers',
      text: 'x',
      'h:X-Token': token,
      'h:X-Words': words,
    });
    await mg.messages.create(api.domain, {
      to: ['nia@example.com'],
      message: mime,
      'h:X-Token': token,
      'h:X-Words': words,
    });
    for (const recipient of ['mo@example.com', 'nia@example.com']) {
      const bytes = await api.receivedBytes(recipient);
      const longest = Math.max(
        ...bytes
          .toString('latin1')
          .split('\r\n')
          .map((l) => l.length),
      );
      assert.ok(longest <= 998, `${recipient}: a line of ${longest} octets`);
      // mailparser leaves encoded-words in fields it does not know; RFC 2047 decodes them.
      const received = await api.received(recipient);
      const header = (name: string) => libmime.decodeWords(String(received.headers.get(name)));
      assert.equal(header('x-token'), token, recipient);
      assert.equal(header('x-words'), words, recipient);
      for (const r of await api.dkim(bytes)) assert.equal(r.result, 'pass');
    }
  });

  it('a long structured field is never encoded: References without blanks goes as it came, and messages.mime refuses it', async () => {
    const references = Array.from({ length: 50 }, (_, i) => `<thread-${i}@shop.test>`).join('');
    await mg.messages.create(api.domain, {
      from: 'team@shop.test',
      to: 'oz@example.com',
      subject: 'long references',
      text: 'x',
      'h:References': references,
    });
    const raw = (await api.receivedBytes('oz@example.com')).toString('latin1');
    const unfolded = raw.replace(/\r\n[ \t]+/g, ' ');
    assert.ok(unfolded.includes(`References: ${references}\r\n`), 'References as given');
    await assert.rejects(
      mg.messages.create(api.domain, {
        to: ['oz@example.com'],
        message: Buffer.from('From: team@shop.test\r\nSubject: m\r\n\r\nx\r\n'),
        'h:References': references,
      }),
      (e: { status: number; details: string }) =>
        e.status === 400 && /h:References is too long for one header line/.test(e.details),
    );
  });

  it('o:deliverytime holds the message until then, and messages show says so', async () => {
    const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3000);
    const result = await mg.messages.create(api.domain, {
      from: 'team@shop.test',
      to: 'kim@example.com',
      subject: 'later',
      text: 'scheduled',
      'o:deliverytime': at.toUTCString().replace('GMT', '+0000'),
    });
    const [accepted] = await acceptedFor(result.id as string);
    assert.equal(accepted?.scheduledAt, at.getTime());
    const config = join(api.relay.dir, 'mailtrail.yaml');
    writeFileSync(config, `dataDir: ${api.relay.config.dataDir}\n`);
    const shown = spawnSync(
      process.execPath,
      [BIN, 'messages', 'show', accepted?.messageId as string, '--config', config],
      { cwd: REPO, encoding: 'utf8' },
    );
    assert.match(shown.stdout, /scheduled for \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    await api.receivedBytes('kim@example.com');
    const delivered = api.sink.transactions.find((t) => t.to.includes('kim@example.com'));
    assert.ok(
      Date.parse(delivered?.at as string) >= at.getTime(),
      `delivered at ${delivered?.at}, not before ${at.toISOString()}`,
    );
  });

  it('o:testmode: accepted and recorded, never delivered', async () => {
    const result = await mg.messages.create(api.domain, {
      from: 'team@shop.test',
      to: 'lea@example.com',
      subject: 'test mode',
      text: 'not for delivery',
      'o:testmode': 'yes',
    });
    assert.equal(result.message, 'Queued. Thank you.');
    const [accepted] = await acceptedFor(result.id as string);
    assert.equal(accepted?.testMode, true);
    await waitFor(
      () =>
        listRecipients(api.relay.readDb, { recipient: 'lea@example.com' })[0]?.status === 'test',
      'the recipient on record in test mode',
    );
    // A message sent after it arrives first: the test-mode one was never going to.
    await mg.messages.create(api.domain, {
      from: 'team@shop.test',
      to: 'max@example.com',
      text: 'after',
    });
    await api.receivedBytes('max@example.com');
    assert.equal(
      api.sink.transactions.some((t) => t.to.includes('lea@example.com')),
      false,
    );
  });

  it('o:require-tls: a server without STARTTLS gets nothing, 451 4.7.10 is recorded', async () => {
    const result = await mg.messages.create(api.domain, {
      from: 'team@shop.test',
      to: 'ned@example.com',
      text: 'secret',
      'o:require-tls': true,
    });
    const [accepted] = await acceptedFor(result.id as string);
    const deferred = await waitFor(async () => {
      const events = await streamEvents(api.relay.store, `message-${accepted?.messageId}`);
      return events.find((e) => e.type === 'DeliveryDeferred');
    }, 'a deferral');
    const reply = (deferred.data as { reply: { code: number; enhancedCode: string } }).reply;
    assert.deepEqual([reply.code, reply.enhancedCode], [451, '4.7.10']);
    assert.equal(
      api.sink.transactions.some((t) => t.to.includes('ned@example.com')),
      false,
    );
  });

  it('errors come back as mailgun.js reads them', async () => {
    const reject = async (
      client: ReturnType<Mailgun['client']>,
      domain: string,
      data: Record<string, unknown>,
    ) => {
      try {
        await client.messages.create(domain, data as never);
      } catch (error) {
        return error as { status: number; details: string };
      }
      assert.fail('expected the API to refuse');
    };
    const before = (await acceptedMessages(api.relay.store)).length;
    const wrongKey = new Mailgun(FormData as never).client({
      username: 'api',
      key: 'mt_not-a-key',
      url: api.baseUrl,
    });
    const message = { from: 'team@shop.test', to: 'oz@example.com', text: 'x' };
    const unauthorized = await reject(wrongKey, api.domain, message);
    assert.deepEqual([unauthorized.status, unauthorized.details], [401, 'Forbidden']);
    const cases: Array<[string, Record<string, unknown>, number, RegExp]> = [
      [api.domain, { to: 'oz@example.com', text: 'x' }, 400, /^from parameter is missing$/],
      [api.domain, { from: 'team@shop.test', text: 'x' }, 400, /^to parameter is missing$/],
      [
        api.domain,
        { ...message, to: 'oz@example..com' },
        400,
        /^to parameter is not a valid address/,
      ],
      [
        api.domain,
        { from: 'team@shop.test', to: 'oz@example.com' },
        400,
        /at least one of 'text' or 'html'/,
      ],
      [
        api.domain,
        { ...message, to: 'a@example.com', 'recipient-variables': '{not json' },
        400,
        /'recipient-variables' parameter is not a valid JSON/,
      ],
      [
        api.domain,
        { ...message, to: Array.from({ length: 1001 }, (_, i) => `r${i}@example.com`) },
        400,
        /Too many recipients, max is 1000/,
      ],
      [api.domain, { ...message, 'o:deliverytime': 'soon' }, 400, /not an RFC-2822 compliant date/],
      [
        api.domain,
        { ...message, from: 'team@elsewhere.test' },
        400,
        /may not send as elsewhere\.test/,
      ],
      [api.domain, { ...message, 'h:X-Evil': 'a\r\nBcc: victim@example.com' }, 400, /CR or LF/],
      ['elsewhere.test', message, 404, /^Domain not found: elsewhere\.test$/],
    ];
    for (const [domain, data, status, details] of cases) {
      const error = await reject(mg, domain, data);
      assert.equal(error.status, status, `${JSON.stringify(data).slice(0, 80)}: ${error.details}`);
      assert.match(error.details, details);
    }
    assert.equal((await acceptedMessages(api.relay.store)).length, before, 'nothing was queued');
  });
});

describe('o:require-tls where the server offers STARTTLS', () => {
  let api: ApiRelay;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailtrail-require-tls-'));
    const shaping = join(dir, 'shaping.yaml');
    writeFileSync(shaping, 'domains:\n  example.com: { tls: off }\n');
    // The route names the server by its address: the certificate is for that address.
    const ca = await createTestCa();
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, ca.cert);
    const tls = await ca.issue(['127.0.0.81']);
    api = await startApiRelay(
      '127.0.0.81',
      { shaping: { files: [shaping] }, delivery: { caFiles: [caFile] } },
      'shop.test',
      { tls },
    );
  });
  after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("goes over TLS though the site's policy is off; the site's other mail stays in clear", async () => {
    const mg = new Mailgun(FormData as never).client({
      username: 'api',
      key: api.apiKey,
      url: api.baseUrl,
    });
    const send = (to: string, requireTls: boolean) =>
      mg.messages.create(api.domain, {
        from: 'team@shop.test',
        to,
        text: 'hello',
        ...(requireTls ? { 'o:require-tls': 'yes' } : {}),
      });
    await send('plain@example.com', false);
    await send('secret@example.com', true);
    const arrived = (recipient: string) =>
      waitFor(
        () => api.sink.transactions.find((t) => t.to.includes(recipient)),
        `${recipient} delivered`,
      );
    assert.equal((await arrived('plain@example.com')).tls, false);
    assert.equal((await arrived('secret@example.com')).tls, true);
    const delivered = await outcomeFor(api, 'secret@example.com');
    assert.equal(delivered.type, 'MessageDelivered');
    assert.equal(delivered.remote.tlsVerified, true, 'the certificate was checked');
  });
});

describe("o:require-tls to a server whose certificate is not valid for it (Mailgun's verification)", () => {
  let api: ApiRelay;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailtrail-require-tls-'));
    const tls = await loadOrCreateTls({}, join(dir, 'tls'), 'mx.example.com');
    api = await startApiRelay('127.0.0.99', {}, 'shop.test', { tls });
  });
  after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const send = (to: string, extra: Record<string, string>) =>
    new Mailgun(FormData as never)
      .client({ username: 'api', key: api.apiKey, url: api.baseUrl })
      .messages.create(api.domain, { from: 'team@shop.test', to, text: 'hello', ...extra });

  it('is deferred with 451 4.7.5 and nothing is sent', async () => {
    await send('vera@example.com', { 'o:require-tls': 'yes' });
    const outcome = await outcomeFor(api, 'vera@example.com');
    assert.equal(outcome.type, 'DeliveryDeferred');
    assert.deepEqual([outcome.reply.code, outcome.reply.enhancedCode], [451, '4.7.5']);
    assert.match(outcome.reply.text, /o:require-tls/);
    assert.equal(
      api.sink.transactions.some((t) => t.to.includes('vera@example.com')),
      false,
    );
  });

  it('with o:skip-verification, any certificate will do', async () => {
    await send('walt@example.com', { 'o:require-tls': 'yes', 'o:skip-verification': 'yes' });
    const outcome = await outcomeFor(api, 'walt@example.com');
    assert.equal(outcome.type, 'MessageDelivered', outcome.reply.text);
    assert.deepEqual([outcome.remote.tls, outcome.remote.tlsVerified], [true, false]);
  });

  it('the unverified connection that left open does not carry mail that needs verification', async () => {
    await send('xena@example.com', { 'o:require-tls': 'yes' });
    const outcome = await outcomeFor(api, 'xena@example.com');
    assert.equal(outcome.type, 'DeliveryDeferred');
    assert.equal(outcome.reply.enhancedCode, '4.7.5');
  });
});

describe('size limits: Mailgun, and a Postmark batch', () => {
  let api: ApiRelay;
  before(async () => {
    api = await startApiRelay('127.0.0.78', {
      smtp: { maxMessageSize: 65_536 },
      http: { maxBatchBytes: 1024 * 1024 },
    });
  });
  after(async () => api.close());
  const client = () =>
    new Mailgun(FormData as never).client({ username: 'api', key: api.apiKey, url: api.baseUrl });

  it('a message over smtp.maxMessageSize gets a 413 that names the message and the limit, not the request size', async () => {
    const mg = client();
    const error = await mg.messages
      .create(api.domain, {
        from: 'team@shop.test',
        to: 'big@example.com',
        subject: 'big',
        text: 'see attached',
        attachment: [{ filename: 'big.bin', data: Buffer.alloc(60_000, 1) }],
      })
      .then(
        () => assert.fail('accepted'),
        (e: { status: number; details: string }) => e,
      );
    assert.equal(error.status, 413);
    assert.match(error.details, /^the message is \d+ bytes; the limit is 65536$/);
    assert.deepEqual(await acceptedMessages(api.relay.store), []);
  });

  it('a batch that would store more than http.maxBatchBytes is refused whole before any of it is built; a smaller one goes', async () => {
    const batch = (n: number, tag: string) => {
      const to = Array.from({ length: n }, (_, i) => `r${i}-${tag}@example.com`);
      return client().messages.create(api.domain, {
        from: 'team@shop.test',
        to,
        subject: `batch ${tag}`,
        text: 'Hello %recipient.name%',
        'recipient-variables': JSON.stringify(
          Object.fromEntries(to.map((a, i) => [a, { name: `n${i}` }])),
        ),
        attachment: [{ filename: 'a.bin', data: Buffer.alloc(30_000, 2) }],
      });
    };
    const error = await batch(30, 'big').then(
      () => assert.fail('accepted'),
      (e: { status: number; details: string }) => e,
    );
    assert.equal(error.status, 413);
    assert.match(error.details, /would store at least \d+ bytes of messages; the limit is 1048576/);
    assert.deepEqual(await acceptedMessages(api.relay.store), []);
    await batch(10, 'small');
    assert.equal((await acceptedMessages(api.relay.store)).length, 10);
  });

  it('a Postmark batch is taken item by item while http.maxBatchBytes lasts; the rest get ErrorCode 300', async () => {
    const pm = new postmark.ServerClient(api.apiKey, {
      useHttps: false,
      requestHost: `127.0.0.1:${new URL(api.baseUrl).port}`,
    });
    const before = (await acceptedMessages(api.relay.store)).length;
    const items = Array.from({ length: 25 }, (_, i) => ({
      From: 'team@shop.test',
      To: `pm${i}@example.com`,
      Subject: `item ${i}`,
      TextBody: 'x'.repeat(50_000),
    }));
    const answers = await pm.sendEmailBatch(items);
    // 50,000 bytes each against 1,048,576: twenty fit.
    assert.deepEqual(
      answers.map((a) => a.ErrorCode),
      [...Array(20).fill(0), ...Array(5).fill(300)],
    );
    assert.match(answers[24]?.Message ?? '', /would store at least \d+ bytes/);
    assert.equal((await acceptedMessages(api.relay.store)).length, before + 20);
  });
});
