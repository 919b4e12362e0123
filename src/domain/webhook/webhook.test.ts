import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageAccepted, MessageSigned, Opened } from '../message/events.js';
import { attemptOutcome, MAILGUN_RETRY_SCHEDULE } from './attempt.js';
import {
  decideWebhook,
  evolveWebhook,
  type WebhookCommand,
  type WebhookCreated,
  WebhookError,
  type WebhookEvent,
  type WebhookState,
} from './endpoint.js';
import { notificationsOf, summarizeMessage } from './notification.js';

const created: WebhookCreated = {
  type: 'WebhookCreated',
  data: {
    webhookId: 'wh_1',
    credentialId: 'c1',
    url: 'https://app.test/hooks',
    format: 'mailgun',
    events: ['delivered'],
    publicKey: null,
    createdAt: 1,
  },
};

/** Given these events, when this command, then these events (or this error code). */
const given = (events: WebhookEvent[]) => ({
  when: (command: WebhookCommand) => {
    const state = events.reduce(evolveWebhook, { status: 'absent' } as WebhookState);
    return {
      thenExpect: (expected: WebhookEvent[]) =>
        assert.deepEqual(decideWebhook(command, state), expected),
      thenFails: (code: WebhookError['code']) =>
        assert.throws(
          () => decideWebhook(command, state),
          (e) => e instanceof WebhookError && e.code === code,
        ),
    };
  },
});

describe('webhook endpoint decider', () => {
  it('creates once', () => {
    given([]).when({ type: 'CreateWebhook', data: created.data }).thenExpect([created]);
    given([created]).when({ type: 'CreateWebhook', data: created.data }).thenFails('WebhookExists');
  });

  it('removes an endpoint once; removing it again adds nothing', () => {
    const removed: WebhookEvent = {
      type: 'WebhookRemoved',
      data: { webhookId: 'wh_1', removedAt: 2 },
    };
    given([created])
      .when({ type: 'RemoveWebhook', webhookId: 'wh_1', at: 2 })
      .thenExpect([removed]);
    given([created, removed])
      .when({ type: 'RemoveWebhook', webhookId: 'wh_1', at: 3 })
      .thenExpect([]);
    given([])
      .when({ type: 'RemoveWebhook', webhookId: 'wh_1', at: 2 })
      .thenFails('WebhookNotFound');
  });

  it('replays only for an endpoint still in place', () => {
    const replay = { type: 'ReplayWebhook', webhookId: 'wh_1', since: 5, at: 9 } as const;
    given([created])
      .when(replay)
      .thenExpect([
        { type: 'WebhookReplayRequested', data: { webhookId: 'wh_1', since: 5, requestedAt: 9 } },
      ]);
    given([created, { type: 'WebhookRemoved', data: { webhookId: 'wh_1', removedAt: 2 } }])
      .when(replay)
      .thenFails('WebhookRemoved');
  });
});

describe('webhook attempt outcomes', () => {
  const schedule = [1000, 2000];
  it('any 2xx is delivered', () => {
    for (const status of [200, 202, 204])
      assert.deepEqual(attemptOutcome('native', status, 1, 0, schedule), {
        outcome: 'delivered',
        nextAttemptAt: null,
      });
  });

  it("406 stops retries for Mailgun's format only", () => {
    assert.equal(attemptOutcome('mailgun', 406, 1, 0, schedule).outcome, 'rejected');
    assert.equal(attemptOutcome('sendgrid', 406, 1, 0, schedule).outcome, 'retry');
  });

  it('retries on the schedule, then dead-letters', () => {
    assert.deepEqual(attemptOutcome('postmark', 503, 1, 10, schedule), {
      outcome: 'retry',
      nextAttemptAt: 1010,
    });
    assert.deepEqual(attemptOutcome('postmark', null, 2, 10, schedule), {
      outcome: 'retry',
      nextAttemptAt: 2010,
    });
    assert.deepEqual(attemptOutcome('postmark', 500, 3, 10, schedule), {
      outcome: 'dead',
      nextAttemptAt: null,
    });
  });

  it("Mailgun's schedule spans about eight hours", () => {
    const total = MAILGUN_RETRY_SCHEDULE.reduce((a, b) => a + b, 0);
    assert.equal(total, (8 * 60 + 5) * 60_000);
  });
});

describe('notifications of a message event', () => {
  const accepted: MessageAccepted = {
    type: 'MessageAccepted',
    data: {
      messageId: 'M1',
      acceptedAt: 100,
      source: 'mailgun',
      credential: { id: 'c1', name: 'app' },
      client: { address: '127.0.0.1', helo: null, tls: false },
      envelope: {
        from: 'team@shop.test',
        to: [
          { address: 'ann@example.com', orcpt: null },
          { address: 'bob@example.com', orcpt: null },
        ],
        envId: null,
      },
      headers: { messageId: '<M1@relay.test>', subject: 'Hi', from: 'team@shop.test' },
      size: 10,
      bodyRef: 'b',
      jobId: null,
      lane: 'transactional',
      pool: null,
      returnPathDomain: null,
      recipientHeadersRef: null,
      batchId: null,
      apiMessageId: null,
      stream: null,
      tags: ['t'],
      metadata: { k: 'v' },
      scheduledAt: null,
      testMode: false,
      requireTls: false,
      skipTlsVerification: false,
      tracking: { opens: false, clicks: false },
    },
  };
  const summary = summarizeMessage(accepted.data);

  it('acceptance tells each recipient, at the time it was accepted', () => {
    const made = notificationsOf(accepted, summary, 7n, 999);
    assert.deepEqual(
      made.map((n) => [n.kind, n.recipient, n.at, n.position]),
      [
        ['accepted', 'ann@example.com', 100, 7n],
        ['accepted', 'bob@example.com', 100, 7n],
      ],
    );
  });

  it('an engagement event tells its one recipient; a signature tells nothing', () => {
    const opened: Opened = {
      type: 'Opened',
      data: {
        recipient: 'bob@example.com',
        at: 300,
        userAgent: null,
        ip: null,
        machine: 'apple',
        first: true,
      },
    };
    assert.deepEqual(
      notificationsOf(opened, summary, 9n, 999).map((n) => [n.kind, n.recipient, n.at]),
      [['opened', 'bob@example.com', 300]],
    );
    const signed: MessageSigned = {
      type: 'MessageSigned',
      data: { signatures: [{ domain: 'shop.test', selector: 's', algorithm: 'rsa-sha256' }] },
    };
    assert.deepEqual(notificationsOf(signed, summary, 8n, 999), []);
  });
});
