/**
 * Invalid UTF-8 and NUL bytes, over SMTP and the HTTP APIs. Addresses must be ASCII, or
 * valid UTF-8 with SMTPUTF8 (RFC 6531), over SMTP and in every API address field; a JSON body
 * that is not UTF-8 is a bad request; header-bound API fields (subject, names, custom
 * headers, tags, custom data) must hold neither NUL nor undecodable bytes. Message content
 * is content: 8-bit bytes in SMTP DATA pass through untouched, NUL is normalised away (see
 * smuggling.test.ts), and API bodies are MIME-encoded. Each refusal: the exact reply, and
 * nothing stored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiRelay, startApiRelay } from '../support/api-relay.js';
import { acceptedMessages } from '../support/fixtures.js';
import { postMailgunMultipart } from '../support/mailgun-multipart.js';
import { startTestRelay, type TestRelay } from '../support/relay-harness.js';
import { type RawSmtp, rawSmtp } from '../support/smtp-client.js';

const TRUSTED = '127.0.0.9';
const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(
    parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))),
  );

describe('invalid UTF-8 and NUL over SMTP', () => {
  let relay: TestRelay;
  /** Every session opened, destroyed in after() should a failed assertion skip its end(). */
  const sessions: RawSmtp[] = [];
  const session = async (): Promise<RawSmtp> => {
    const c = await rawSmtp(relay.smtpPort, '127.0.0.1', TRUSTED);
    sessions.push(c);
    assert.match(await c.read(), /^220 /);
    assert.match(await c.command('EHLO client.test\r\n'), /^250/);
    return c;
  };
  const queued = async () => (await acceptedMessages(relay.store)).length;
  before(async () => {
    relay = await startTestRelay({
      smtp: { trustedNetworks: [`${TRUSTED}/32`] },
      dns: { servers: ['127.0.0.1:9'], timeout: '100ms' },
    });
  });
  after(async () => {
    for (const c of sessions) c.socket().destroy();
    await relay.cleanup();
  });

  const BAD_SENDER = '501 5.1.7 Error: Bad sender address syntax';
  const SENDER_NOT_UTF8 = '501 5.1.7 Bad sender address syntax: not valid UTF-8';
  const senders: Array<[string, Buffer, string]> = [
    ['NUL in the local part', bytes('MAIL FROM:<a\0b@sender.test>\r\n'), BAD_SENDER],
    ['NUL in the domain', bytes('MAIL FROM:<a@sen\0der.test>\r\n'), BAD_SENDER],
    ['NUL after the address', bytes('MAIL FROM:<a@sender.test>\0\r\n'), BAD_SENDER],
    [
      'invalid UTF-8 (C3 28)',
      bytes('MAIL FROM:<a', [0xc3, 0x28], '@sender.test>\r\n'),
      SENDER_NOT_UTF8,
    ],
    ['a lone 0xFF', bytes('MAIL FROM:<a', [0xff], '@sender.test>\r\n'), SENDER_NOT_UTF8],
    ['0xFF in the domain', bytes('MAIL FROM:<a@sender', [0xff], '.test>\r\n'), SENDER_NOT_UTF8],
    [
      'invalid UTF-8 even with SMTPUTF8',
      bytes('MAIL FROM:<a', [0xc3, 0x28], '@sender.test> SMTPUTF8\r\n'),
      SENDER_NOT_UTF8,
    ],
    [
      'UTF-8 without SMTPUTF8',
      Buffer.from('MAIL FROM:<jörg@sender.test>\r\n'),
      '553 5.6.7 Non-ASCII sender address needs SMTPUTF8 at MAIL FROM',
    ],
  ];
  for (const [what, command, reply] of senders)
    it(`a sender with ${what} is refused: ${reply.slice(0, 9)}`, async () => {
      const before = await queued();
      const c = await session();
      assert.equal(await c.command(command), reply);
      assert.equal(
        await c.command('RCPT TO:<b@example.com>\r\n'),
        '503 5.5.1 Error: need MAIL command',
      );
      c.end();
      assert.equal(await queued(), before);
    });

  const RCPT_NOT_UTF8 = '501 5.1.3 Bad recipient address syntax: not valid UTF-8';
  const recipients: Array<[string, Buffer, string, string?]> = [
    [
      'NUL',
      bytes('RCPT TO:<b\0c@example.com>\r\n'),
      '501 5.1.3 Error: Bad recipient address syntax',
    ],
    [
      'invalid UTF-8 (C3 28)',
      bytes('RCPT TO:<b', [0xc3, 0x28], '@example.com>\r\n'),
      RCPT_NOT_UTF8,
    ],
    ['a lone 0xFF', bytes('RCPT TO:<b', [0xff], '@example.com>\r\n'), RCPT_NOT_UTF8],
    ['0xFF in the domain', bytes('RCPT TO:<b@exa', [0xff], 'mple.com>\r\n'), RCPT_NOT_UTF8],
    [
      'invalid UTF-8 even with SMTPUTF8',
      bytes('RCPT TO:<b', [0xc3, 0x28], '@example.com>\r\n'),
      RCPT_NOT_UTF8,
      'MAIL FROM:<a@sender.test> SMTPUTF8\r\n',
    ],
    [
      'UTF-8 without SMTPUTF8',
      Buffer.from('RCPT TO:<zoë@example.com>\r\n'),
      '553 5.6.7 Non-ASCII recipient address needs SMTPUTF8 at MAIL FROM',
    ],
  ];
  for (const [what, command, reply, mail = 'MAIL FROM:<a@sender.test>\r\n'] of recipients)
    it(`a recipient with ${what} is refused (${reply.slice(0, 9)}); the transaction goes on without it`, async () => {
      const before = await queued();
      const c = await session();
      assert.match(await c.command(mail), /^250 /);
      assert.equal(await c.command(command), reply);
      assert.equal(await c.command('DATA\r\n'), '503 5.5.1 Error: need RCPT command');
      c.end();
      assert.equal(await queued(), before);
    });

  it('UTF-8 addresses with SMTPUTF8 declared are taken', async () => {
    const c = await session();
    assert.match(
      await c.command(Buffer.from('MAIL FROM:<jörg@sender.test> SMTPUTF8\r\n')),
      /^250 /,
    );
    assert.match(await c.command(Buffer.from('RCPT TO:<zoë@example.com>\r\n')), /^250 /);
    c.end();
  });

  it('8-bit bytes that are not UTF-8 in headers and body are content: taken and kept as sent', async () => {
    const c = await session();
    await c.command('MAIL FROM:<a@sender.test>\r\n');
    await c.command('RCPT TO:<b@example.com>\r\n');
    await c.command('DATA\r\n');
    const reply = await c.command(
      bytes('Subject: caf', [0xe9], '\r\n\r\nbody ', [0xfe, 0xc0], '\r\n.\r\n'),
    );
    assert.match(reply, /^250 2\.0\.0 Ok: queued as (\S+)/);
    c.end();
    const id = /queued as (\S+)/.exec(reply)?.[1] ?? '';
    const body = Buffer.from((await relay.store.readBlob(`body-${id}`)) ?? []);
    assert.ok(body.includes(bytes('Subject: caf', [0xe9], '\r\n')));
    assert.ok(body.includes(bytes('body ', [0xfe, 0xc0], '\r\n')));
  });

  it('NUL inside DATA is dropped (smtp.bareLineEndings: normalize): one message, no NUL stored', async () => {
    const before = await queued();
    const c = await session();
    await c.command('MAIL FROM:<a@sender.test>\r\n');
    await c.command('RCPT TO:<b@example.com>\r\n');
    await c.command('DATA\r\n');
    const reply = await c.command(
      bytes('Subject: a\0b\r\nX-Note: ', [0xc3, 0x28], '\r\n\r\nbo\0dy\r\n\0\r\n.\r\n'),
    );
    assert.match(reply, /^250 2\.0\.0 Ok: queued as (\S+)$/);
    assert.equal(await c.command('QUIT\r\n'), '221 2.0.0 Bye');
    assert.equal(await queued(), before + 1);
    const id = /queued as (\S+)/.exec(reply)?.[1] ?? '';
    const body = Buffer.from((await relay.store.readBlob(`body-${id}`)) ?? []);
    assert.equal(body.indexOf(0), -1);
    assert.ok(
      body.includes(bytes('Subject: ab\r\nX-Note: ', [0xc3, 0x28], '\r\n\r\nbody\r\n\r\n')),
    );
  });
});

describe('invalid UTF-8 and NUL over the HTTP APIs', () => {
  let api: ApiRelay;
  before(async () => {
    api = await startApiRelay('127.0.0.64');
  });
  after(() => api.close());
  const stored = async () => (await acceptedMessages(api.relay.store)).length;

  const sendgrid = (body: Buffer) =>
    fetch(`${api.baseUrl}/v3/mail/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.apiKey}`, 'content-type': 'application/json' },
      body,
    });
  const postmark = (body: Buffer) =>
    fetch(`${api.baseUrl}/email`, {
      method: 'POST',
      headers: { 'x-postmark-server-token': api.apiKey, 'content-type': 'application/json' },
      body,
    });
  const mailgun = (form: string) =>
    fetch(`${api.baseUrl}/v3/${api.domain}/messages`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`api:${api.apiKey}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: form,
    });
  const sendgridMail = (subject: Buffer, text: Buffer = Buffer.from('t')) =>
    bytes(
      '{"personalizations":[{"to":[{"email":"x@example.com"}]}],"from":{"email":"a@shop.test"},"subject":"',
      [...subject],
      '","content":[{"type":"text/plain","value":"',
      [...text],
      '"}]}',
    );

  it('SendGrid: a subject that is not UTF-8 is 400 in the errors shape, nothing stored', async () => {
    const before = await stored();
    const response = await sendgrid(sendgridMail(bytes([0xc3, 0x28, 0xff])));
    assert.equal(response.status, 400);
    const body = (await response.json()) as { errors: Array<{ message: string }> };
    assert.match(
      body.errors[0]?.message ?? '',
      /the subject holds a NUL or bytes that are not UTF-8/,
    );
    assert.equal(await stored(), before);
  });

  it('SendGrid: the same bytes in the body are content, taken', async () => {
    const response = await sendgrid(sendgridMail(Buffer.from('ok'), bytes('caf', [0xe9])));
    assert.equal(response.status, 202);
  });

  it('Postmark: a subject that is not UTF-8, or with a NUL, is 422 ErrorCode 300, nothing stored', async () => {
    const before = await stored();
    for (const subject of [bytes([0xff, 0xfe]), Buffer.from('a\\u0000b')]) {
      const response = await postmark(
        bytes(
          '{"From":"a@shop.test","To":"x@example.com","Subject":"',
          [...subject],
          '","TextBody":"t"}',
        ),
      );
      assert.equal(response.status, 422);
      const body = (await response.json()) as { ErrorCode: number; Message: string };
      assert.equal(body.ErrorCode, 300);
      assert.match(body.Message, /the subject holds a NUL/);
    }
    assert.equal(await stored(), before);
  });

  const sendgridAddresses = (from: Buffer, to: Buffer, name?: Buffer) =>
    bytes(
      '{"personalizations":[{"to":[{"email":"',
      [...to],
      '"}]}],"from":{"email":"',
      [...from],
      '"',
      name ? bytes(',"name":"', [...name], '"').toString('latin1') : '',
      '},"subject":"s","content":[{"type":"text/plain","value":"t"}]}',
    );
  const SG_FROM = { message: 'Does not contain a valid address.', field: 'from.email', help: null };
  const SG_TO = {
    message: 'Does not contain a valid address.',
    field: 'personalizations.0.to.0.email',
    help: null,
  };
  const sendgridCases: Array<[string, Buffer, object]> = [
    [
      'a body that is not UTF-8 at all',
      bytes([0xff, 0xfe, 0xc3, 0x28]),
      { message: 'Bad Request', field: null, help: null },
    ],
    [
      'a raw NUL byte in the JSON',
      bytes('{"subject":"a\0b"}'),
      { message: 'Bad Request', field: null, help: null },
    ],
    [
      'from.email with C3 28',
      sendgridAddresses(bytes('a', [0xc3, 0x28], '@shop.test'), Buffer.from('x@example.com')),
      SG_FROM,
    ],
    [
      'from.email with \\u0000',
      sendgridAddresses(Buffer.from('a\\u0000@shop.test'), Buffer.from('x@example.com')),
      SG_FROM,
    ],
    [
      'a to email with 0xFF',
      sendgridAddresses(Buffer.from('a@shop.test'), bytes('x', [0xff], '@example.com')),
      SG_TO,
    ],
    [
      'a to email with \\u0000',
      sendgridAddresses(Buffer.from('a@shop.test'), Buffer.from('x\\u0000@example.com')),
      SG_TO,
    ],
    [
      'a from name with 0xFF',
      sendgridAddresses(Buffer.from('a@shop.test'), Buffer.from('x@example.com'), bytes([0xff])),
      { message: 'the from holds a NUL or bytes that are not UTF-8', field: null, help: null },
    ],
  ];
  for (const [what, body, error] of sendgridCases)
    it(`SendGrid: ${what} is 400 in the errors shape, nothing stored`, async () => {
      const before = await stored();
      const response = await sendgrid(body);
      assert.equal(response.status, 400);
      assert.deepEqual(await response.json(), { errors: [error] });
      assert.equal(await stored(), before);
    });

  const postmarkAddresses = (from: Buffer, to: Buffer) =>
    bytes('{"From":"', [...from], '","To":"', [...to], '","Subject":"s","TextBody":"t"}');
  const postmarkCases: Array<[string, Buffer, number, RegExp]> = [
    [
      'a body that is not UTF-8 at all',
      bytes([0xff, 0xfe, 0xc3, 0x28]),
      402,
      /^Invalid JSON: the request body could not be parsed\.$/,
    ],
    [
      'From with C3 28',
      postmarkAddresses(bytes('a', [0xc3, 0x28], '@shop.test'), Buffer.from('x@example.com')),
      300,
      /^Invalid 'From' address: /,
    ],
    [
      'From with \\u0000',
      postmarkAddresses(Buffer.from('a\\u0000@shop.test'), Buffer.from('x@example.com')),
      300,
      /^Invalid 'From' address: /,
    ],
    [
      'To with 0xFF',
      postmarkAddresses(Buffer.from('a@shop.test'), bytes('x', [0xff], '@example.com')),
      300,
      /^Invalid 'To' address: /,
    ],
    [
      'To with \\u0000',
      postmarkAddresses(Buffer.from('a@shop.test'), Buffer.from('x\\u0000@example.com')),
      300,
      /^Invalid 'To' address: /,
    ],
  ];
  for (const [what, body, code, message] of postmarkCases)
    it(`Postmark: ${what} is 422 ErrorCode ${code}, nothing stored`, async () => {
      const before = await stored();
      const response = await postmark(body);
      assert.equal(response.status, 422);
      const reply = (await response.json()) as { ErrorCode: number; Message: string };
      assert.equal(reply.ErrorCode, code);
      assert.match(reply.Message, message);
      assert.equal(await stored(), before);
    });

  const multipart = (fields: Array<[string, Buffer]>) =>
    postMailgunMultipart(
      api,
      fields.map(([name, value]) => ({ name, value })),
    );
  const base: Array<[string, Buffer]> = [
    ['from', Buffer.from('a@shop.test')],
    ['to', Buffer.from('x@example.com')],
    ['text', Buffer.from('t')],
  ];

  it('Mailgun multipart: a subject, custom header or custom data that is not UTF-8 or holds a NUL is 400, nothing stored', async () => {
    const before = await stored();
    for (const [extra, field] of [
      [['subject', bytes([0xc3, 0x28, 0xff])], 'subject'],
      [['subject', Buffer.from('a\u0000b')], 'subject'],
      [['h:X-Note', bytes([0xff])], 'header X-Note'],
      [['v:order', Buffer.from('\u0000')], 'custom data'],
    ] as Array<[[string, Buffer], string]>) {
      const response = await multipart([...base, extra]);
      assert.equal(response.status, 400, field);
      const { message } = (await response.json()) as { message: string };
      assert.match(message, new RegExp(`the ${field} holds a NUL or bytes that are not UTF-8`));
    }
    assert.equal(await stored(), before);
  });

  const mailgunAddresses: Array<[string, string, Buffer]> = [
    ['from', 'C3 28', bytes('a', [0xc3, 0x28], '@shop.test')],
    ['from', '0xFF', bytes('a', [0xff], '@shop.test')],
    ['from', 'NUL', Buffer.from('a\0@shop.test')],
    ['to', 'C3 28', bytes('x', [0xc3, 0x28], '@example.com')],
    ['to', '0xFF', bytes('x', [0xff], '@example.com')],
    ['to', 'NUL', Buffer.from('x\0@example.com')],
  ];
  for (const [field, what, value] of mailgunAddresses)
    it(`Mailgun multipart: ${field} with ${what} is 400, nothing stored`, async () => {
      const before = await stored();
      const response = await multipart(base.map(([n, v]) => [n, n === field ? value : v]));
      assert.equal(response.status, 400);
      assert.deepEqual(await response.json(), {
        message: `${field} parameter is not a valid address. please check documentation`,
      });
      assert.equal(await stored(), before);
    });

  const mailgunForms: Array<[string, string, string]> = [
    ['to with %00', 'from=a%40shop.test&to=x%00%40example.com&subject=s&text=t', 'to'],
    ['from with %FF', 'from=a%FF%40shop.test&to=x%40example.com&subject=s&text=t', 'from'],
    ['to with %C3%28', 'from=a%40shop.test&to=x%C3%28%40example.com&subject=s&text=t', 'to'],
  ];
  for (const [what, form, field] of mailgunForms)
    it(`Mailgun form-encoded: ${what} is 400, nothing stored`, async () => {
      const before = await stored();
      const response = await mailgun(form);
      assert.equal(response.status, 400);
      assert.deepEqual(await response.json(), {
        message: `${field} parameter is not a valid address. please check documentation`,
      });
      assert.equal(await stored(), before);
    });

  it('Mailgun form-encoded: a NUL is 400; an escape that is not UTF-8 stays the literal text it was', async () => {
    const before = await stored();
    const nul = await mailgun('from=a%40shop.test&to=x%40example.com&subject=a%00b&text=t');
    assert.equal(nul.status, 400);
    const nulFrom = await mailgun('from=a%00b%40shop.test&to=x%40example.com&subject=s&text=t');
    assert.equal(nulFrom.status, 400);
    assert.equal(await stored(), before);
    // fast-querystring leaves an undecodable escape as it was written: plain ASCII text.
    const literal = await mailgun('from=a%40shop.test&to=x%40example.com&subject=%C3%28%FF&text=t');
    assert.equal(literal.status, 200);
    const last = (await acceptedMessages(api.relay.store)).at(-1)?.data as {
      headers: { subject: string };
    };
    assert.equal(last.headers.subject, '%C3%28%FF');
  });
});
