/**
 * The SendGrid front door driven by the official SDK (@sendgrid/mail), pointed at the real
 * fastify server: 202 with X-Message-Id, personalizations as separate messages with their
 * substitutions, headers and custom args, categories, sandbox mode, send_at, and the
 * errors ResponseError reads.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@sendgrid/client';
import { MailService } from '@sendgrid/mail';
import type { MessageAccepted } from '../../src/domain/message/events.js';
import { listRecipients } from '../../src/projections/delivery-queue/queries.js';
import { type ApiRelay, startApiRelay } from '../support/api-relay.js';
import { acceptedMessages } from '../support/fixtures.js';
import { waitFor } from '../support/relay-harness.js';

type Accepted = MessageAccepted['data'];

describe('SendGrid API with @sendgrid/mail', () => {
  let api: ApiRelay;
  const mail = (key: string) => {
    const client = new Client();
    client.setApiKey(key);
    // After setApiKey, which resets the base URL to SendGrid's own.
    client.setDefaultRequest('baseUrl', `${api.baseUrl}/`);
    const service = new MailService();
    service.setClient(client);
    return service;
  };
  let sg: MailService;

  before(async () => {
    api = await startApiRelay('127.0.0.62');
    sg = mail(api.apiKey);
  });
  after(async () => api.close());

  const acceptedIn = async (batchId: string): Promise<Accepted[]> =>
    (await acceptedMessages(api.relay.store))
      .map((e) => e.data as Accepted)
      .filter((d) => d.batchId === batchId);

  it('sends a message with an attachment, categories and custom args: 202 and X-Message-Id', async () => {
    const [response] = await sg.send({
      from: { email: 'team@shop.test', name: 'Shop Team' },
      to: { email: 'ann@example.com', name: 'Ann Example' },
      cc: 'cat@example.com',
      replyTo: 'help@shop.test',
      subject: 'Your receipt',
      text: 'Plain receipt',
      html: '<p>HTML receipt</p>',
      categories: ['receipts', 'orders'],
      customArgs: { order: '1234' },
      headers: { 'X-Order': '1234' },
      attachments: [
        {
          content: Buffer.from('%PDF-1.4 fake').toString('base64'),
          filename: 'receipt.pdf',
          type: 'application/pdf',
          disposition: 'attachment',
        },
      ],
    });
    assert.equal(response.statusCode, 202);
    const id = response.headers['x-message-id'] as string;
    assert.match(id, /^[0-9A-Z]{26}$/);
    const received = await api.received('ann@example.com');
    assert.equal(received.subject, 'Your receipt');
    assert.equal(received.from?.value[0]?.name, 'Shop Team');
    assert.equal(received.headers.get('x-order'), '1234');
    assert.equal(received.text?.trim(), 'Plain receipt');
    assert.match(received.html || '', /HTML receipt/);
    assert.equal(
      received.attachments.find((a) => a.filename === 'receipt.pdf')?.content.toString(),
      '%PDF-1.4 fake',
    );
    for (const r of await api.dkim(await api.receivedBytes('ann@example.com')))
      assert.equal(r.result, 'pass');
    const [accepted] = await acceptedIn(id);
    assert.equal(accepted?.source, 'sendgrid');
    assert.deepEqual(accepted?.tags, ['receipts', 'orders']);
    assert.deepEqual(accepted?.metadata, { order: '1234' });
  });

  it("custom headers of 24 KB in all: the SDK sends them as HTTP headers too, beyond Node's 16 KB default", async () => {
    const headers = Object.fromEntries(
      Array.from({ length: 24 }, (_, i) => [`X-Note-${i}`, `${i} ${'word '.repeat(199)}`.trim()]),
    );
    const [response] = await sg.send({
      from: 'team@shop.test',
      to: 'gil@example.com',
      subject: 'many headers',
      text: 'x',
      headers,
    });
    assert.equal(response.statusCode, 202);
    const received = await api.received('gil@example.com');
    assert.equal(received.headers.get('x-note-23'), headers['X-Note-23']);
  });

  it('one message per personalization, each with its substitutions, headers and custom args', async () => {
    const [response] = await sg.send({
      from: 'team@shop.test',
      // The SDK wraps substitution keys in {{ }}; the server replaces keys as sent.
      subject: 'Hi {{name}}',
      content: [{ type: 'text/plain', value: 'Your plan: {{plan}}' }],
      customArgs: { campaign: 'spring', tier: 'all' },
      personalizations: [
        {
          to: 'dan@example.com',
          substitutions: { name: 'Dan', plan: 'gold' },
          headers: { 'X-Seg': 'a' },
          customArgs: { tier: 'gold' },
        },
        {
          to: [{ email: 'eve@example.com' }],
          bcc: 'audit@example.com',
          substitutions: { name: 'Eve', plan: 'basic' },
          headers: { 'X-Seg': 'b' },
        },
      ],
    });
    const id = response.headers['x-message-id'] as string;
    const accepted = await acceptedIn(id);
    assert.equal(accepted.length, 2);
    const dan = await api.received('dan@example.com');
    assert.equal(dan.subject, 'Hi Dan');
    assert.equal(dan.text?.trim(), 'Your plan: gold');
    assert.equal(dan.headers.get('x-seg'), 'a');
    const eve = await api.received('eve@example.com');
    assert.equal(eve.subject, 'Hi Eve');
    assert.equal(eve.headers.get('x-seg'), 'b');
    await api.receivedBytes('audit@example.com');
    const byFirst = new Map(accepted.map((a) => [a.envelope.to[0]?.address, a]));
    assert.deepEqual(byFirst.get('dan@example.com')?.metadata, {
      campaign: 'spring',
      tier: 'gold',
    });
    assert.deepEqual(byFirst.get('eve@example.com')?.metadata, { campaign: 'spring', tier: 'all' });
    assert.deepEqual(
      byFirst.get('eve@example.com')?.envelope.to.map((t) => t.address),
      ['eve@example.com', 'audit@example.com'],
    );
  });

  it('substitutions reach every body, AMP included, in one pass; a personalization header replaces the message header of that name in any case', async () => {
    const [response] = await sg.send({
      from: 'team@shop.test',
      subject: 'Plan {{plan}}',
      content: [
        { type: 'text/plain', value: 'Plan {{plan}}, code {{code}}' },
        { type: 'TEXT/HTML', value: '<p>Plan {{plan}}</p>' },
        { type: 'text/x-amp-html', value: '<html amp4email><body>Plan {{plan}}</body></html>' },
      ],
      headers: { 'X-Seg': 'everyone' },
      personalizations: [
        {
          to: 'fay@example.com',
          // The SDK sends these keys as {{plan}} and {{code}}. The value put in for {{plan}}
          // holds another key: it is not replaced again.
          substitutions: { plan: 'gold {{code}}', code: 'G1' },
          headers: { 'x-seg': 'fay' },
        },
      ],
    });
    assert.equal(response.statusCode, 202);
    const fay = await api.received('fay@example.com');
    assert.equal(fay.subject, 'Plan gold {{code}}');
    assert.equal(fay.text?.trim(), 'Plan gold {{code}}, code G1');
    assert.match(fay.html || '', /Plan gold \{\{code\}\}/);
    assert.deepEqual(fay.headerLines.filter((l) => /^x-seg$/i.test(l.key)).length, 1);
    assert.equal(fay.headers.get('x-seg'), 'fay');
    const raw = (await api.receivedBytes('fay@example.com')).toString('latin1');
    assert.match(raw, /Content-Type: text\/x-amp-html/);
    assert.match(raw, /Plan gold \{\{code\}\}<\/body>/);
  });

  it('content the SendGrid way: a type with parameters, HTML before text, or a type we cannot send is refused by name', async () => {
    const attempt = (content: Array<{ type: string; value: string }>) =>
      // Cast: the SDK's type wants a text or html field, where the API takes content alone.
      sg
        .send({
          from: 'team@shop.test',
          to: 'gus@example.com',
          subject: 'x',
          content,
        } as Parameters<MailService['send']>[0])
        .then(
          () => assert.fail('expected a 400'),
          (e: { code: number; response: { body: { errors: Array<{ field: string }> } } }) => {
            assert.equal(e.code, 400);
            return e.response.body.errors[0]?.field;
          },
        );
    assert.equal(
      await attempt([{ type: 'text/plain; charset=utf-8', value: 'x' }]),
      'content.0.type',
    );
    assert.equal(
      await attempt([
        { type: 'text/html', value: '<p>x</p>' },
        { type: 'text/plain', value: 'x' },
      ]),
      'content',
    );
    assert.equal(
      await attempt([{ type: 'text/calendar', value: 'BEGIN:VCALENDAR' }]),
      'content.0.type',
    );
  });

  it('sandbox mode answers 200 and records the message, which is never delivered', async () => {
    const [response] = await sg.send({
      from: 'team@shop.test',
      to: 'sam@example.com',
      subject: 'sandbox',
      text: 'never sent',
      mailSettings: { sandboxMode: { enable: true } },
    });
    assert.equal(response.statusCode, 200);
    const [accepted] = await acceptedIn(response.headers['x-message-id'] as string);
    assert.equal(accepted?.testMode, true);
    await waitFor(
      () =>
        listRecipients(api.relay.readDb, { recipient: 'sam@example.com' })[0]?.status === 'test',
      'on record in test mode',
    );
  });

  it('send_at holds the message until then', async () => {
    const sendAt = Math.ceil(Date.now() / 1000) + 3;
    const [response] = await sg.send({
      from: 'team@shop.test',
      to: 'tia@example.com',
      subject: 'later',
      text: 'scheduled',
      sendAt,
    });
    const [accepted] = await acceptedIn(response.headers['x-message-id'] as string);
    assert.equal(accepted?.scheduledAt, sendAt * 1000);
    await api.receivedBytes('tia@example.com');
    const t = api.sink.transactions.find((x) => x.to.includes('tia@example.com'));
    assert.ok(Date.parse(t?.at as string) >= sendAt * 1000, `delivered at ${t?.at}`);
  });

  it('errors come back as ResponseError reads them', async () => {
    const refuse = async (service: MailService, message: Record<string, unknown>) => {
      try {
        await service.send(message as never);
      } catch (error) {
        const e = error as {
          code: number;
          response: { body: { errors: Array<{ message: string; field: string | null }> } };
        };
        return { code: e.code, errors: e.response.body.errors };
      }
      assert.fail('expected the API to refuse');
    };
    const before = (await acceptedMessages(api.relay.store)).length;
    const ok = { from: 'team@shop.test', to: 'uma@example.com', subject: 's', text: 't' };
    const badKey = await refuse(mail('SG.not-a-key'), ok);
    assert.equal(badKey.code, 401);
    assert.match(badKey.errors[0]?.message ?? '', /authorization grant is invalid/);
    const cases: Array<[Record<string, unknown>, number, string | null, RegExp]> = [
      [{ ...ok, to: 'not-an-address' }, 400, 'personalizations.0.to.0.email', /valid address/],
      [{ ...ok, subject: undefined }, 400, 'subject', /subject is required/],
      [{ ...ok, text: undefined }, 400, 'content', /content parameter is required/],
      [{ ...ok, from: 'team@elsewhere.test' }, 403, 'from', /verified Sender Identity/],
      [
        { ...ok, headers: { 'X-Evil': 'a\r\nBcc: victim@example.com' } },
        400,
        'headers',
        /CR or LF/,
      ],
      [
        { ...ok, to: Array.from({ length: 1001 }, (_, i) => `r${i}@example.com`) },
        400,
        'personalizations',
        /no more than 1000/,
      ],
    ];
    for (const [message, code, field, text] of cases) {
      const refused = await refuse(sg, message);
      assert.equal(refused.code, code, JSON.stringify(refused.errors));
      assert.equal(refused.errors[0]?.field, field);
      assert.match(refused.errors[0]?.message ?? '', text);
    }
    assert.equal((await acceptedMessages(api.relay.store)).length, before, 'nothing was queued');
  });
});
