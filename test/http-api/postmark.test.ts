/**
 * The Postmark front door driven by the official SDK (postmark's ServerClient), pointed at
 * the real fastify server: single and batch sends with their per-message results,
 * Headers, Tag, Metadata and attachments, inactive (suppressed) recipients in the words
 * the SDK parses, and its error classes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as postmark from 'postmark';
import { addSuppressions } from '../../src/apps/suppressions/record-suppressions.js';
import type { MessageAccepted } from '../../src/domain/message/events.js';
import { findSuppression } from '../../src/projections/suppressions/suppressions.js';
import { type ApiRelay, startApiRelay } from '../support/api-relay.js';
import { acceptedMessages } from '../support/fixtures.js';
import { waitFor } from '../support/relay-harness.js';

type Accepted = MessageAccepted['data'];

describe('Postmark API with postmark.js', () => {
  let api: ApiRelay;
  const client = (token: string) =>
    new postmark.ServerClient(token, {
      useHttps: false,
      requestHost: `127.0.0.1:${new URL(api.baseUrl).port}`,
    });
  let pm: postmark.ServerClient;

  before(async () => {
    api = await startApiRelay('127.0.0.63');
    pm = client(api.apiKey);
  });
  after(async () => api.close());

  const accepted = async (messageId: string): Promise<Accepted | undefined> =>
    (await acceptedMessages(api.relay.store))
      .map((e) => e.data as Accepted)
      .find((d) => d.messageId === messageId);

  it('sends one message: To, SubmittedAt, MessageID, ErrorCode 0, and what was asked arrives', async () => {
    const response = await pm.sendEmail({
      From: 'Shop Team <team@shop.test>',
      To: 'Ann Example <ann@example.com>',
      Cc: 'cat@example.com',
      Subject: 'Welcome',
      TextBody: 'Hello Ann',
      HtmlBody: '<p>Hello <b>Ann</b></p>',
      ReplyTo: 'help@shop.test',
      Tag: 'welcome',
      Metadata: { user: '42' },
      Headers: [{ Name: 'X-Campaign', Value: 'onboarding' }],
      Attachments: [
        {
          Name: 'terms.txt',
          Content: Buffer.from('Be nice.').toString('base64'),
          ContentType: 'text/plain',
          ContentID: null,
        },
      ],
    } as postmark.Models.Message);
    assert.equal(response.ErrorCode, 0);
    assert.equal(response.Message, 'OK');
    assert.equal(response.To, 'ann@example.com');
    assert.ok(!Number.isNaN(Date.parse(response.SubmittedAt)));
    const mail = await api.received('ann@example.com');
    assert.equal(mail.subject, 'Welcome');
    assert.equal(mail.headers.get('x-campaign'), 'onboarding');
    assert.equal(mail.attachments[0]?.content.toString(), 'Be nice.');
    for (const r of await api.dkim(await api.receivedBytes('ann@example.com')))
      assert.equal(r.result, 'pass');
    const data = await accepted(response.MessageID);
    assert.equal(data?.source, 'postmark');
    assert.deepEqual(data?.tags, ['welcome']);
    assert.deepEqual(data?.metadata, { user: '42' });
  });

  it('a batch answers per message, in order; a bad one does not hold back the rest', async () => {
    const results = await pm.sendEmailBatch([
      { From: 'team@shop.test', To: 'dan@example.com', Subject: 'one', TextBody: '1' },
      { From: 'team@shop.test', To: 'not an address', Subject: 'two', TextBody: '2' },
      { From: 'team@elsewhere.test', To: 'eve@example.com', Subject: 'three', TextBody: '3' },
      { From: 'team@shop.test', To: 'fay@example.com', Subject: 'four', TextBody: '4' },
    ]);
    assert.deepEqual(
      results.map((r) => r.ErrorCode),
      [0, 300, 400, 0],
    );
    assert.match(results[1]?.Message ?? '', /Invalid 'To' address/);
    assert.equal(results[1]?.MessageID, undefined);
    assert.equal((await api.received('dan@example.com')).subject, 'one');
    assert.equal((await api.received('fay@example.com')).subject, 'four');
    assert.equal((await accepted(results[3]?.MessageID as string))?.batchId !== null, true);
  });

  it('MessageStream is kept with each message, for its webhooks; a name no stream could have is refused', async () => {
    const results = await pm.sendEmailBatch([
      {
        From: 'team@shop.test',
        To: 'gus@example.com',
        Subject: 'news',
        TextBody: 'n',
        MessageStream: 'broadcast',
      },
      { From: 'team@shop.test', To: 'hal@example.com', Subject: 'receipt', TextBody: 'r' },
      {
        From: 'team@shop.test',
        To: 'ida@example.com',
        Subject: 'x',
        TextBody: 'x',
        MessageStream: 'no such/stream',
      },
    ]);
    assert.deepEqual(
      results.map((r) => r.ErrorCode),
      [0, 0, 300],
    );
    assert.match(results[2]?.Message ?? '', /MessageStream/);
    assert.equal((await accepted(results[0]?.MessageID as string))?.stream, 'broadcast');
    assert.equal((await accepted(results[1]?.MessageID as string))?.stream, null);
  });

  it('inactive recipients: some are left out with ErrorCode 0, all of them is InactiveRecipientsError', async () => {
    await addSuppressions(
      api.relay.store,
      'global',
      [{ address: 'gone@example.com', reason: 'hard-bounce', expiresAt: null, note: null }],
      Date.now(),
    );
    await waitFor(
      () => findSuppression(api.relay.readDb, 'gone@example.com', ['global'], Date.now()),
      'the suppression',
    );
    const some = await pm.sendEmail({
      From: 'team@shop.test',
      To: 'gone@example.com, here@example.com',
      Subject: 'partly',
      TextBody: 'x',
    });
    assert.equal(some.ErrorCode, 0);
    assert.match(some.Message, /will not deliver to these inactive addresses: gone@example\.com\./);
    await api.receivedBytes('here@example.com');
    try {
      await pm.sendEmail({
        From: 'team@shop.test',
        To: 'gone@example.com',
        Subject: 'nobody',
        TextBody: 'x',
      });
      assert.fail('expected InactiveRecipientsError');
    } catch (error) {
      assert.ok(error instanceof postmark.Errors.InactiveRecipientsError, String(error));
      assert.deepEqual(error.recipients, ['gone@example.com']);
      assert.equal(error.statusCode, 422);
    }
  });

  it('errors come back as postmark.js error classes', async () => {
    const before = (await acceptedMessages(api.relay.store)).length;
    const ok = { From: 'team@shop.test', To: 'oz@example.com', Subject: 's', TextBody: 't' };
    const refuse = async (c: postmark.ServerClient, message: Record<string, unknown>) => {
      try {
        await c.sendEmail(message as never);
      } catch (error) {
        return error as postmark.Errors.PostmarkError & { statusCode: number };
      }
      assert.fail('expected the API to refuse');
    };
    const badToken = await refuse(client('not-a-token'), ok);
    assert.ok(badToken instanceof postmark.Errors.InvalidAPIKeyError);
    assert.equal(badToken.code, 10);
    const cases: Array<[Record<string, unknown>, number, RegExp]> = [
      [{ ...ok, From: undefined }, 300, /Invalid 'From' address/],
      [{ ...ok, To: undefined }, 300, /Zero recipients specified/],
      [{ ...ok, TextBody: undefined }, 300, /TextBody or HtmlBody/],
      [
        { ...ok, To: Array.from({ length: 51 }, (_, i) => `r${i}@example.com`).join(', ') },
        300,
        /Maximum of 50 recipients/,
      ],
      [{ ...ok, From: 'team@elsewhere.test' }, 400, /not a Sender Signature/],
      [{ ...ok, Headers: [{ Name: 'X-Evil', Value: 'a\r\nBcc: v@example.com' }] }, 300, /CR or LF/],
    ];
    for (const [message, code, text] of cases) {
      const error = await refuse(pm, message);
      assert.ok(error instanceof postmark.Errors.ApiInputError, `${code}: ${error}`);
      assert.equal(error.code, code, error.message);
      assert.equal(error.statusCode, 422);
      assert.match(error.message, text);
    }
    try {
      await pm.sendEmailBatch(Array.from({ length: 501 }, () => ok));
      assert.fail('expected a refusal');
    } catch (error) {
      assert.equal((error as postmark.Errors.PostmarkError).code, 410);
    }
    assert.equal((await acceptedMessages(api.relay.store)).length, before, 'nothing was queued');
  });
});
