import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_SUBMISSION_OPTIONS } from '../message/events.js';
import { parseSmtpReply } from '../smtp-reply/smtp-reply.js';
import {
  ACCT_FIELDS,
  acctRecord,
  csvHeader,
  csvRecord,
  factsFromAccepted,
  formatAcctTime,
} from './acct-record.js';

const facts = factsFromAccepted({
  messageId: 'm1',
  acceptedAt: Date.UTC(2026, 10, 27, 20, 0, 0),
  source: 'smtp',
  credential: null,
  client: { address: '127.0.0.9', helo: 'app.test', tls: true },
  envelope: {
    from: 'a@s.test',
    to: [{ address: 'b@r.test', orcpt: 'rfc822;b@orig.test' }],
    envId: 'E1',
  },
  headers: { messageId: null, subject: null, from: null },
  size: 2048,
  bodyRef: 'body-m1',
  jobId: 'job-7',
  lane: 'bulk',
  pool: null,
  returnPathDomain: null,
  recipientHeadersRef: null,
  ...NO_SUBMISSION_OPTIONS,
});
const remote = {
  mx: 'mx.r.test',
  ip: '127.0.0.2',
  sourceIp: '127.0.0.1',
  tls: true,
  esmtp: ['PIPELINING', 'STARTTLS'],
};

describe('accounting records', () => {
  it('header line is PowerMTA field order', () => {
    assert.equal(csvHeader(), `${ACCT_FIELDS.join(',')}\r\n`);
    assert.ok(
      csvHeader().startsWith(
        'type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag',
      ),
    );
  });

  it('a bounce is a b record with the DSN fields and the category', () => {
    const r = acctRecord(facts, {
      type: 'MessageBounced',
      data: {
        recipient: 'b@r.test',
        site: 'mx:mx.r.test',
        source: 'mta2',
        attempt: 1,
        at: Date.UTC(2026, 10, 27, 20, 0, 5),
        reply: parseSmtpReply('550 5.1.1 no such user, really'),
        remote,
        classification: {
          class: 'InvalidRecipient',
          category: 'bad-mailbox',
          severity: 'permanent',
          rule: 'x.yaml:1',
        },
        phase: 'in-band',
      },
    });
    assert.equal(r.type, 'b');
    assert.equal(r.timeLogged, '2026-11-27 20:00:05+0000');
    assert.equal(r.timeQueued, formatAcctTime(Date.UTC(2026, 10, 27, 20, 0, 0)));
    assert.equal(r.dsnAction, 'failed');
    assert.equal(r.dsnStatus, '5.1.1');
    assert.equal(r.dsnDiag, 'smtp;550 5.1.1 no such user, really');
    assert.equal(r.dsnMta, 'mx.r.test (127.0.0.2)');
    assert.equal(r.bounceCat, 'bad-mailbox');
    assert.equal(r.orcpt, 'rfc822;b@orig.test');
    assert.equal(r.srcMta, 'app.test (127.0.0.9)');
    assert.equal(r.dlvEsmtpAvailable, 'PIPELINING,STARTTLS');
    assert.equal(r.jobId, 'job-7');
    assert.equal(r.envId, 'E1');
    assert.equal(r.vmta, 'mta2', 'the egress source is the virtual MTA');
    // The comma in the diagnostic is quoted, RFC 4180 style.
    assert.ok(csvRecord(r).includes('"smtp;550 5.1.1 no such user, really"'));
  });

  it('a delivery is a d record, a deferral a t record', () => {
    const base = {
      recipient: 'b@r.test',
      site: null,
      source: null,
      attempt: 1,
      at: 0,
      reply: parseSmtpReply('250 2.0.0 ok'),
      remote,
    };
    assert.equal(
      acctRecord(facts, { type: 'MessageDelivered', data: { ...base, queuedMs: 5 } }).type,
      'd',
    );
    const t = acctRecord(facts, {
      type: 'DeliveryDeferred',
      data: {
        ...base,
        reply: parseSmtpReply('451 4.3.0 later'),
        nextAttemptAt: 10,
        category: 'other',
        class: null,
      },
    });
    assert.equal(t.type, 't');
    const late = acctRecord(facts, {
      type: 'MessageBounced',
      data: {
        ...base,
        reply: parseSmtpReply('550 5.1.1 no such user'),
        classification: {
          class: 'InvalidRecipient',
          category: 'bad-mailbox',
          severity: 'permanent',
          rule: 'x.yaml:1',
        },
        phase: 'out-of-band',
      },
    });
    assert.equal(late.type, 'rb', 'a bounce report that came back later is a remote bounce');
    assert.equal(t.dsnAction, 'delayed');
  });
});
