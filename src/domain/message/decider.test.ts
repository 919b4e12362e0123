import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BounceRules, classifyReply } from '../bounce/classifier.js';
import type { RetryPolicy } from '../retry/retry-policy.js';
import { parseSmtpReply } from '../smtp-reply/smtp-reply.js';
import {
  type ClassifiedResult,
  decide,
  evolve,
  fold,
  initialState,
  type MessageCommand,
  MessageError,
  pendingRecipients,
} from './decider.js';
import { type MessageAccepted, type MessageEvent, NO_SUBMISSION_OPTIONS } from './events.js';

/** Emmett-style specification: given past events, when a command, then new events. */
const given = (events: readonly MessageEvent[]) => ({
  when: (command: MessageCommand) => ({
    thenEmits: (expected: readonly MessageEvent[]) =>
      assert.deepEqual(decide(command, fold(events)), expected),
    thenThrows: (code: string) =>
      assert.throws(
        () => decide(command, fold(events)),
        (e) => e instanceof MessageError && e.code === code,
      ),
  }),
});

const T0 = 1_700_000_000_000;
const MIN = 60_000;
const policy: RetryPolicy = { scheduleMs: [5 * MIN, 10 * MIN], maxAgeMs: 60 * MIN, jitter: 0 };
const remote = {
  mx: 'mx.example.com',
  ip: '127.0.0.2',
  sourceIp: '127.0.0.1',
  tls: false,
  esmtp: [],
};

const accepted: MessageAccepted = {
  type: 'MessageAccepted',
  data: {
    messageId: '01HZZZZZZZZZZZZZZZZZZZZZZZ',
    acceptedAt: T0,
    source: 'smtp',
    credential: { id: 'c1', name: 'app' },
    client: { address: '127.0.0.1', helo: 'client.test', tls: true },
    envelope: {
      from: 'app@sender.test',
      to: [
        { address: 'a@example.com', orcpt: null },
        { address: 'b@example.com', orcpt: null },
      ],
      envId: null,
    },
    headers: { messageId: '<m1@sender.test>', subject: 'hi', from: 'app@sender.test' },
    size: 123,
    bodyRef: 'body-01HZZZZZZZZZZZZZZZZZZZZZZZ',
    jobId: null,
    lane: 'transactional',
    pool: null,
    returnPathDomain: null,
    recipientHeadersRef: null,
    ...NO_SUBMISSION_OPTIONS,
  },
};

// A one-rule classifier: the decider records whatever verdict the caller hands it.
const rules: BounceRules = {
  phrases: [],
  codes: [
    {
      className: 'InvalidRecipient',
      pattern: /^\d{3} 5\.1\.1(?!\d)/,
      origin: { file: 't.yaml', line: 1 },
    },
  ],
  classes: {},
};
const result = (recipient: string, reply: string): ClassifiedResult => {
  const parsed = parseSmtpReply(reply);
  return {
    recipient,
    reply: parsed,
    remote,
    ...(parsed.code >= 400 ? { classification: classifyReply(rules, parsed) } : {}),
  };
};
const attempt = (at: number, ...results: ClassifiedResult[]): MessageCommand => ({
  type: 'RecordAttempt',
  at,
  results,
  route: { site: 'provider:example', source: 'mta1' },
  policy,
  random: 0,
});

describe('message decider', () => {
  it('accepts a new message', () => {
    given([]).when({ type: 'AcceptMessage', data: accepted.data }).thenEmits([accepted]);
  });

  it('refuses to accept the same message twice', () => {
    given([accepted])
      .when({ type: 'AcceptMessage', data: accepted.data })
      .thenThrows('MessageAlreadyAccepted');
  });

  it('refuses an attempt on a message it never accepted', () => {
    given([])
      .when(attempt(T0, result('a@example.com', '250 ok')))
      .thenThrows('MessageNotAccepted');
  });

  it('2xx delivers, 5xx bounces and 4xx defers, per recipient', () => {
    given([accepted])
      .when(
        attempt(
          T0 + 1000,
          result('a@example.com', '250 2.0.0 queued'),
          result('b@example.com', '451 4.3.0 try later'),
        ),
      )
      .thenEmits([
        {
          type: 'MessageDelivered',
          data: {
            recipient: 'a@example.com',
            site: 'provider:example',
            source: 'mta1',
            attempt: 1,
            at: T0 + 1000,
            reply: { code: 250, enhancedCode: '2.0.0', text: 'queued' },
            remote,
            queuedMs: 1000,
          },
        },
        {
          type: 'DeliveryDeferred',
          data: {
            recipient: 'b@example.com',
            site: 'provider:example',
            source: 'mta1',
            attempt: 1,
            at: T0 + 1000,
            nextAttemptAt: T0 + 1000 + 5 * MIN,
            reply: { code: 451, enhancedCode: '4.3.0', text: 'try later' },
            remote,
            category: 'other',
            class: 'Uncategorized',
          },
        },
      ]);
  });

  it('a 5xx bounces in-band with its classification', () => {
    const [event] = decide(
      attempt(T0, result('a@example.com', '550 5.1.1 no such user')),
      fold([accepted]),
    );
    assert.equal(event?.type, 'MessageBounced');
    assert.deepEqual(event?.type === 'MessageBounced' && event.data.classification, {
      class: 'InvalidRecipient',
      category: 'bad-mailbox',
      severity: 'permanent',
      rule: 't.yaml:1 /^\\d{3} 5\\.1\\.1(?!\\d)/',
    });
    assert.equal(event?.type === 'MessageBounced' && event.data.phase, 'in-band');
  });

  it('a 4xx after the maximum queue age bounces as expired', () => {
    given([accepted])
      .when(attempt(T0 + 60 * MIN, result('a@example.com', '421 4.4.2 timeout')))
      .thenEmits([
        {
          type: 'MessageBounced',
          data: {
            recipient: 'a@example.com',
            site: 'provider:example',
            source: 'mta1',
            attempt: 1,
            at: T0 + 60 * MIN,
            reply: { code: 421, enhancedCode: '4.4.2', text: 'timeout' },
            remote,
            classification: {
              class: 'MessageExpired',
              category: 'message-expired',
              severity: 'transient',
              rule: 'queue.maxAge',
            },
            phase: 'expired',
          },
        },
      ]);
  });

  it('counts attempts across deferrals', () => {
    const first = decide(
      attempt(T0, result('a@example.com', '450 4.2.0 greylisted')),
      fold([accepted]),
    );
    const [second] = decide(
      attempt(T0 + 5 * MIN, result('a@example.com', '450 4.2.0 greylisted')),
      fold([accepted, ...first]),
    );
    assert.equal(second?.type, 'DeliveryDeferred');
    assert.equal(second?.type === 'DeliveryDeferred' && second.data.attempt, 2);
    assert.equal(second?.type === 'DeliveryDeferred' && second.data.nextAttemptAt, T0 + 15 * MIN);
  });

  it('ignores a result for a recipient that is already final (a replayed attempt)', () => {
    const delivered = decide(attempt(T0, result('a@example.com', '250 ok')), fold([accepted]));
    given([accepted, ...delivered])
      .when(attempt(T0 + 1, result('a@example.com', '250 ok')))
      .thenEmits([]);
  });

  it('a queue bounce takes every pending recipient at the domain, due or not, as a policy bounce', () => {
    const withOther: MessageAccepted = {
      ...accepted,
      data: {
        ...accepted.data,
        envelope: {
          ...accepted.data.envelope,
          to: [...accepted.data.envelope.to, { address: 'c@other.test', orcpt: null }],
        },
      },
    };
    // a is delivered; b is deferred (not due for five minutes); c is at another domain.
    const earlier = decide(
      attempt(T0, result('a@example.com', '250 ok'), result('b@example.com', '451 4.3.0 later')),
      fold([withOther]),
    );
    const reply = parseSmtpReply('550 5.7.1 Service unavailable, client host blocked');
    const bounced = decide(
      {
        type: 'BounceQueued',
        at: T0 + MIN,
        domain: 'example.com',
        route: { site: 'provider:example', source: null },
        reply,
        // Even a class that would suppress: the site bounced, not the mailbox.
        classification: {
          class: 'BadDomain',
          category: 'bad-domain',
          severity: 'permanent',
          rule: 'shaping.yaml:12 (bounce-queue)',
        },
      },
      fold([withOther, ...earlier]),
    );
    assert.deepEqual(bounced, [
      {
        type: 'MessageBounced',
        data: {
          recipient: 'b@example.com',
          site: 'provider:example',
          source: null,
          attempt: 1,
          at: T0 + MIN,
          reply,
          remote: { mx: null, ip: null, sourceIp: null, tls: false, esmtp: [] },
          classification: {
            class: 'BadDomain',
            category: 'bad-domain',
            severity: 'policy',
            rule: 'shaping.yaml:12 (bounce-queue)',
          },
          phase: 'admin',
        },
      },
    ]);
  });

  it('a bounce report after delivery bounces the recipient out of band, once; a complaint is recorded once', () => {
    const delivered = decide(attempt(T0, result('a@example.com', '250 ok')), fold([accepted]));
    const reply = parseSmtpReply('550 5.1.1 no such user');
    const oob: MessageCommand = {
      type: 'RecordOutOfBandBounce',
      at: T0 + MIN,
      recipient: 'a@example.com',
      reply,
      classification: classifyReply(rules, reply),
    };
    const bounced = decide(oob, fold([accepted, ...delivered]));
    assert.equal(bounced[0]?.type === 'MessageBounced' && bounced[0].data.phase, 'out-of-band');
    assert.equal(bounced[0]?.type === 'MessageBounced' && bounced[0].data.attempt, 1);
    given([accepted, ...delivered, ...bounced])
      .when(oob)
      .thenEmits([]);
    const complaint: MessageCommand = {
      type: 'RecordComplaint',
      at: T0 + MIN,
      recipient: 'b@example.com',
      feedbackType: 'abuse',
      userAgent: 'Yahoo!-Mail-Feedback/2.0',
    };
    const complained = decide(complaint, fold([accepted]));
    assert.deepEqual(complained, [
      {
        type: 'ComplaintReceived',
        data: {
          recipient: 'b@example.com',
          at: T0 + MIN,
          feedbackType: 'abuse',
          userAgent: 'Yahoo!-Mail-Feedback/2.0',
        },
      },
    ]);
    given([accepted, ...complained])
      .when(complaint)
      .thenEmits([]);
  });

  it('evolve tracks what is still pending and when it is due', () => {
    const deferred = decide(
      attempt(T0, result('b@example.com', '451 4.3.0 later')),
      fold([accepted]),
    );
    const state = [accepted, ...deferred].reduce(evolve, initialState);
    assert.deepEqual(
      pendingRecipients(state).map((r) => [r.address, r.dueAt, r.attempts]),
      [
        ['a@example.com', T0, 0],
        ['b@example.com', T0 + 5 * MIN, 1],
      ],
    );
  });

  it('a scheduled message is due at its time, and its queue age counts from then', () => {
    const later = T0 + 120 * MIN;
    const scheduled: MessageAccepted = {
      ...accepted,
      data: { ...accepted.data, scheduledAt: later },
    };
    assert.deepEqual(
      pendingRecipients(fold([scheduled])).map((r) => r.dueAt),
      [later, later],
    );
    // Two hours after acceptance is past the one-hour max age, but not past the schedule's.
    const deferred = decide(
      attempt(later + MIN, result('a@example.com', '451 4.3.0 later')),
      fold([scheduled]),
    );
    assert.equal(deferred[0]?.type, 'DeliveryDeferred');
  });

  it('a test-mode message is on record and never pending', () => {
    const test: MessageAccepted = { ...accepted, data: { ...accepted.data, testMode: true } };
    const state = fold([test]);
    assert.deepEqual(pendingRecipients(state), []);
    given([test])
      .when(attempt(T0, result('a@example.com', '250 2.0.0 ok')))
      .thenEmits([]);
  });
});
