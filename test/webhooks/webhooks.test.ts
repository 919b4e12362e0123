/**
 * Webhooks end to end: mail submitted over the Mailgun API and delivered to a sink makes
 * the relay post to a real HTTP receiver on loopback, in each provider's format, signed
 * the provider's way (checked by recomputation for Mailgun and the native format, and by
 * @sendgrid/eventwebhook for SendGrid); a receiver that is down gets everything later, in
 * order per message and once after a 2xx; a dead one is dead-lettered; a hanging one holds
 * back neither mail nor other endpoints; replay sends again.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { EventWebhook, EventWebhookHeader } from '@sendgrid/eventwebhook';
import { createFileWebhookSecretStore } from '../../src/adapters/webhook-secrets/file-webhook-secrets.js';
import { dataPaths } from '../../src/apps/relay/data-paths.js';
import {
  createWebhook,
  type NewWebhook,
  removeWebhook,
  replayWebhook,
} from '../../src/apps/webhooks/manage-webhooks.js';
import type { MessageAccepted } from '../../src/domain/message/events.js';
import type { WebhookEventKind } from '../../src/domain/webhook/notification.js';
import type { WebhookFormatName } from '../../src/domain/webhook-format/webhook-format.js';
import { listCredentials } from '../../src/projections/credentials/credentials.js';
import {
  attemptsOfMessage,
  deliveriesOfMessage,
  findWebhook,
} from '../../src/projections/webhook-outbox/queries.js';
import { type ApiRelay, startApiRelay } from '../support/api-relay.js';
import { acceptedMessages } from '../support/fixtures.js';
import { waitFor } from '../support/relay-harness.js';
import {
  type ReceivedWebhook,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../support/webhook-receiver.js';

type Json = Record<string, unknown>;

describe('webhooks', () => {
  let api: ApiRelay;
  let receiver: WebhookReceiver;
  let credentialId: string;

  before(async () => {
    api = await startApiRelay('127.0.0.67', {
      // A long timeout, so the hanging endpoint below holds its one request for the whole
      // test; retries long enough that a slow moment does not dead-letter the 'down' one.
      webhooks: { retry: ['300ms', '1s', '1s'], timeout: '30s' },
    });
    receiver = await startWebhookReceiver('127.0.0.68');
    credentialId = (
      listCredentials(api.relay.readDb).find((c) => c.name === 'app') as { id: string }
    ).id;
  });
  after(async () => {
    await api.close();
    await receiver.close();
  });

  const secrets = () => createFileWebhookSecretStore(dataPaths(api.relay.config).keys);
  const addHook = async (
    format: WebhookFormatName,
    path: string,
    options: { url?: string; events?: WebhookEventKind[] } = {},
  ): Promise<NewWebhook> => {
    const created = await createWebhook(api.relay.store, secrets(), {
      credentialId,
      url: options.url ?? receiver.url(path),
      format,
      events: options.events ?? ['accepted', 'delivered', 'deferred', 'bounced', 'dropped'],
    });
    await waitFor(
      () => findWebhook(api.relay.readDb, created.webhookId),
      'the webhook in the outbox',
    );
    return created;
  };

  /** Sends one message over the Mailgun API; resolves to its message id once accepted. */
  const send = async (subject: string, to = 'ann@example.com'): Promise<string> => {
    const body = new URLSearchParams({
      from: `Shop <team@${api.domain}>`,
      to,
      subject,
      text: 'Hello',
      'o:tag': 'welcome',
      'v:order': '42',
    });
    const response = await fetch(`${api.baseUrl}/v3/${api.domain}/messages`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`api:${api.apiKey}`).toString('base64')}` },
      body,
    });
    assert.equal(response.status, 200, await response.clone().text());
    const accepted = await waitFor(
      async () =>
        (await acceptedMessages(api.relay.store))
          .map((e) => e.data as MessageAccepted['data'])
          .find((d) => d.headers.subject === subject),
      'the accepted message',
    );
    return accepted.messageId;
  };

  const at = (path: string) => receiver.requests.filter((r) => r.path === path);
  const json = (r: ReceivedWebhook): Json => JSON.parse(r.body.toString()) as Json;
  const mailgunEvents = (path: string, messageId: string) =>
    at(path)
      .filter((r) => r.status === 200)
      .map((r) => json(r)['event-data'] as Json)
      .filter((e) => mailgunMessageIs(e, messageId));
  const messageIdHeaders = new Map<string, string>();
  const mailgunMessageIs = (e: Json, messageId: string) =>
    ((e.message as Json).headers as Json)['message-id'] === messageIdHeaders.get(messageId);
  const remember = async (messageId: string) => {
    const data = (await acceptedMessages(api.relay.store))
      .map((e) => e.data as MessageAccepted['data'])
      .find((d) => d.messageId === messageId);
    messageIdHeaders.set(messageId, (data?.headers.messageId ?? '').replace(/^<|>$/g, ''));
  };

  let mailgunHook: NewWebhook;
  let mailgunMessage: string;

  it('Mailgun: accepted then delivered, signed over timestamp + token, with tags and user variables', async () => {
    mailgunHook = await addHook('mailgun', '/mg');
    mailgunMessage = await send('mailgun webhook');
    await remember(mailgunMessage);
    const events = await waitFor(() => {
      const found = mailgunEvents('/mg', mailgunMessage);
      return found.length >= 2 && found;
    }, 'accepted and delivered at /mg');
    assert.deepEqual(
      events.map((e) => e.event),
      ['accepted', 'delivered'],
    );
    for (const request of at('/mg')) {
      const { signature } = json(request) as { signature: Json };
      assert.equal(String(signature.token).length, 50);
      assert.match(String(signature.timestamp), /^\d{10}$/);
      const expected = createHmac('sha256', mailgunHook.signingKey)
        .update(`${signature.timestamp}${signature.token}`)
        .digest('hex');
      assert.equal(signature.signature, expected);
      assert.equal(request.headers['content-type'], 'application/json');
    }
    const delivered = events[1] as Json;
    assert.equal(delivered.recipient, 'ann@example.com');
    assert.equal(delivered['recipient-domain'], 'example.com');
    assert.deepEqual(delivered.tags, ['welcome']);
    assert.deepEqual(delivered['user-variables'], { order: '42' });
    assert.equal((delivered['delivery-status'] as Json).code, 250);
    assert.doesNotMatch(
      String(((delivered.message as Json).headers as Json)['message-id']),
      /[<>]/,
    );
  });

  it('SendGrid: arrays of events verified by @sendgrid/eventwebhook, custom args as top-level keys', async () => {
    const hook = await addHook('sendgrid', '/sg');
    assert.match(hook.publicKey ?? '', /^MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE/);
    const messageId = await send('sendgrid webhook');
    const verifier = new EventWebhook();
    const key = verifier.convertPublicKeyToECDSA(hook.publicKey as string);
    const events = await waitFor(() => {
      const found = at('/sg')
        .flatMap((r) => json(r) as unknown as Json[])
        .filter((e) => String(e.sg_message_id).endsWith(`.${messageId}`));
      return found.some((e) => e.event === 'delivered') && found;
    }, 'processed and delivered at /sg');
    for (const request of at('/sg')) {
      const signature = request.headers[EventWebhookHeader.SIGNATURE().toLowerCase()] as string;
      const timestamp = request.headers[EventWebhookHeader.TIMESTAMP().toLowerCase()] as string;
      assert.equal(
        verifier.verifySignature(key, request.body.toString(), signature, timestamp),
        true,
      );
      // The verifier does check: one changed byte fails it.
      const changed = request.body.toString().replace('"email"', '"Email"');
      assert.equal(verifier.verifySignature(key, changed, signature, timestamp), false);
    }
    assert.deepEqual(
      events.map((e) => e.event),
      ['processed', 'delivered'],
    );
    for (const e of events) {
      assert.equal(e.email, 'ann@example.com');
      assert.equal(e.order, '42', 'custom args are top-level keys');
      assert.equal(typeof e.timestamp, 'number');
      assert.ok(e.sg_event_id);
    }
    assert.equal(new Set(events.map((e) => e.sg_event_id)).size, events.length);
  });

  it('Postmark: a Delivery record with Basic auth from the URL, and nothing it has no event for', async () => {
    const hook = await addHook('postmark', '/pm', {
      url: receiver.url('/pm').replace('http://', 'http://hooks:s3cret@'),
      events: ['delivered', 'bounced'],
    });
    assert.doesNotMatch(findWebhook(api.relay.readDb, hook.webhookId)?.url ?? '', /s3cret/);
    const messageId = await send('postmark webhook');
    const records = await waitFor(() => {
      const found = at('/pm')
        .map(json)
        .filter((r) => r.MessageID === messageId);
      return found.length > 0 && found;
    }, 'a Delivery at /pm');
    assert.deepEqual(
      records.map((r) => r.RecordType),
      ['Delivery'],
    );
    assert.equal(records[0]?.Recipient, 'ann@example.com');
    assert.deepEqual(records[0]?.Metadata, { order: '42' });
    for (const request of at('/pm'))
      assert.equal(
        request.headers.authorization,
        `Basic ${Buffer.from('hooks:s3cret').toString('base64')}`,
      );
  });

  it('a receiver that is down gets every event once it is back, in order per message, none twice after a 2xx', async () => {
    receiver.answer(503, '/down');
    const hook = await addHook('native', '/down');
    const ids = [await send('down 1'), await send('down 2'), await send('down 3')];
    await waitFor(() => at('/down').filter((r) => r.status === 503).length >= 3, 'failed attempts');
    receiver.answer(200, '/down');
    const taken = await waitFor(() => {
      const got = at('/down')
        .filter((r) => r.status === 200)
        .map(json);
      const complete = ids.every(
        (id) =>
          got.filter((n) => (n.message as Json).messageId === id && n.kind === 'delivered').length >
          0,
      );
      return complete && got;
    }, 'all events after the receiver came back');
    for (const id of ids) {
      const kinds = taken.filter((n) => (n.message as Json).messageId === id).map((n) => n.kind);
      assert.deepEqual(kinds, ['accepted', 'delivered'], `in order for ${id}`);
    }
    const positions = taken.map((n) => `${n.position} ${n.recipient}`);
    assert.equal(new Set(positions).size, positions.length, 'none twice after a 2xx');
    for (const request of at('/down')) {
      const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(
        String(request.headers['x-mailtrail-signature']),
      ) as string[];
      const expected = createHmac('sha256', hook.signingKey)
        .update(`${t}.${request.body.toString()}`)
        .digest('hex');
      assert.equal(v1, expected);
    }
    const attempts = await waitFor(() => {
      const list = attemptsOfMessage(api.relay.readDb, ids[0] as string).filter(
        (a) => a.webhookId === hook.webhookId,
      );
      return list.some((a) => a.kind === 'delivered' && a.outcome === 'delivered') && list;
    }, 'the attempt log');
    const accepted = attempts.filter((a) => a.kind === 'accepted');
    assert.equal(accepted[0]?.outcome, 'retry');
    assert.equal(accepted[0]?.status, 503);
    assert.equal(accepted.at(-1)?.outcome, 'delivered');
  });

  it('dead-letters a notification after the first try and every retry failed', async () => {
    receiver.answer(500, '/dead');
    const hook = await addHook('native', '/dead', { events: ['accepted'] });
    const messageId = await send('dead letter');
    const deliveries = await waitFor(() => {
      const list = deliveriesOfMessage(api.relay.readDb, messageId).filter(
        (d) => d.webhookId === hook.webhookId,
      );
      return list.every((d) => d.status === 'dead') && list.length > 0 && list;
    }, 'the notification dead-lettered');
    assert.equal(deliveries[0]?.attempts, 4, 'the first try and three retries');
    assert.equal(findWebhook(api.relay.readDb, hook.webhookId)?.dead, 1);
    assert.equal(at('/dead').length, 4);
  });

  it('an endpoint that never answers holds back neither the mail nor another endpoint', async () => {
    receiver.answer('hang', '/hang');
    await addHook('native', '/hang');
    await addHook('native', '/fast');
    const messageId = await send('hanging receiver', 'hang@example.com');
    await api.received('hang@example.com');
    await waitFor(
      () =>
        at('/fast')
          .map(json)
          .some((n) => (n.message as Json).messageId === messageId && n.kind === 'delivered'),
      'delivered at /fast',
    );
    // The hanging endpoint has had its request for over the time /fast took, unanswered.
    const hung = at('/hang').filter(
      (r) => json(r).message && (json(r).message as Json).messageId === messageId,
    );
    assert.equal(hung.length, 1, 'one request at /hang, still waiting for an answer');
  });

  it('replay sends again what an endpoint was due since a time, already delivered or not', async () => {
    const before = mailgunEvents('/mg', mailgunMessage).length;
    await replayWebhook(api.relay.store, mailgunHook.webhookId, Date.now() - 3_600_000);
    const after = await waitFor(() => {
      const found = mailgunEvents('/mg', mailgunMessage);
      return found.length >= before + 2 && found;
    }, 'the replayed events');
    assert.deepEqual(
      after.slice(before).map((e) => e.event),
      ['accepted', 'delivered'],
    );
  });

  it('a removed endpoint is told nothing more', async () => {
    const hook = await addHook('native', '/gone');
    await removeWebhook(api.relay.store, secrets(), hook.webhookId);
    await waitFor(
      () => findWebhook(api.relay.readDb, hook.webhookId)?.status === 'removed',
      'removed',
    );
    const messageId = await send('after removal', 'zed@example.com');
    await api.received('zed@example.com');
    await waitFor(
      () => at('/fast').some((r) => (json(r).message as Json).messageId === messageId),
      'another endpoint told',
    );
    assert.equal(at('/gone').length, 0);
  });

  it('the admin API lets an application manage its own endpoints with its API key', async () => {
    const call = async (method: string, path: string, body?: unknown, key = api.apiKey) => {
      const r = await fetch(`${api.baseUrl}${path}`, {
        method,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await r.text();
      return { status: r.status, body: (text ? JSON.parse(text) : null) as Json };
    };
    const created = await call('POST', '/v1/webhooks', {
      url: receiver.url('/admin'),
      format: 'sendgrid',
      events: ['delivered'],
    });
    assert.equal(created.status, 201);
    assert.match(String(created.body.id), /^wh_/);
    assert.match(String(created.body.publicKey), /^MFkw/);
    const id = String(created.body.id);
    const listed = await waitFor(async () => {
      const r = await call('GET', '/v1/webhooks');
      return (r.body.webhooks as Json[]).find((w) => w.id === id);
    }, 'the new endpoint listed');
    assert.deepEqual(
      [listed.format, listed.events, listed.status],
      ['sendgrid', ['delivered'], 'active'],
    );
    const tested = await call('POST', `/v1/webhooks/${id}/test`);
    assert.equal(tested.body.status, 200);
    assert.ok(at('/admin').length >= 1);
    assert.equal(
      (await call('POST', '/v1/webhooks', { url: 'x', format: 'sendgrid' })).status,
      400,
    );
    const noEvent = await call('POST', '/v1/webhooks', {
      url: receiver.url('/admin2'),
      format: 'postmark',
      events: ['accepted'],
    });
    assert.deepEqual(noEvent, {
      status: 400,
      body: { error: 'events: the postmark format has no accepted event' },
    });
    assert.equal((await call('GET', '/v1/webhooks', undefined, '')).status, 401);
    assert.equal((await call('DELETE', '/v1/webhooks/wh_nope')).status, 404);
    assert.equal((await call('DELETE', `/v1/webhooks/${id}`)).status, 204);
    await waitFor(async () => {
      const r = await call('GET', '/v1/webhooks');
      return (r.body.webhooks as Json[]).find((w) => w.id === id)?.status === 'removed';
    }, 'removed');
  });
});
