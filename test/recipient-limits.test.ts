/**
 * A receiver that takes only so many recipients in one transaction (RFC 5321 §4.5.3.1.10):
 * the rest go in the next transaction at once, whether it says so with 452 4.5.3 or, as RFC
 * 821 had it, with 552. Smart sinks on their own loopback addresses play the receivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { messageStream } from '../src/domain/message/events.js';
import { streamEvents } from './support/fixtures.js';
import { type Sink, startSink, submit, type TestRelay, waitFor } from './support/relay-harness.js';
import { startShapedRelay } from './support/shaped-relay.js';

describe('recipients past what one transaction takes', () => {
  let relay: TestRelay;
  let modern: Sink; // 127.0.0.82: 452 4.5.3 past 100 recipients
  let old: Sink; // 127.0.0.83: 552 5.5.3 past 100 recipients
  let full: Sink; // 127.0.0.84: 552 5.5.3 to every recipient

  before(async () => {
    modern = await startSink('127.0.0.82', { maxRecipients: { count: 100, reply: '452' } });
    old = await startSink('127.0.0.83', { maxRecipients: { count: 100, reply: '552' } });
    full = await startSink('127.0.0.84', { maxRecipients: { count: 0, reply: '552' } });
    relay = await startShapedRelay(
      // A retry an hour away: anything deferred would still be waiting when the test ends.
      [
        'domains:',
        '  modern.test: { retry: [1h] }',
        '  old.test: { retry: [1h] }',
        '  full.test: { retry: [1h] }',
      ],
      {
        'modern.test': { host: '127.0.0.82', sink: modern },
        'old.test': { host: '127.0.0.83', sink: old },
        'full.test': { host: '127.0.0.84', sink: full },
      },
      // No return path of ours for a sender we do not send for: the message keeps its own,
      // and goes to many recipients in one transaction (with VERP, one each).
      { bounces: { fallbackDomain: null } },
    );
  });
  after(async () => {
    await relay.cleanup();
    await modern.close();
    await old.close();
    await full.close();
  });

  const deliverAll = async (sink: Sink, domain: string) => {
    const to = Array.from({ length: 250 }, (_, i) => `r${i}@${domain}`);
    const id = await submit(relay.smtpPort, to);
    const events = await waitFor(async () => {
      const all = await streamEvents(relay.store, messageStream(id));
      return all.filter((e) => e.type === 'MessageDelivered').length === to.length && all;
    }, `all 250 at ${domain} delivered`);
    const outcomes = events
      .filter((e) => ['DeliveryDeferred', 'MessageBounced'].includes(e.type))
      .map((e) => e.type);
    assert.deepEqual(outcomes, [], 'nothing deferred or bounced');
    assert.deepEqual(
      sink.transactions.map((t) => t.to.length),
      [100, 100, 50],
    );
    assert.deepEqual(new Set(sink.transactions.flatMap((t) => t.to)).size, 250);
  };

  it('452 4.5.3: the rest go in the next transaction at once, none deferred', async () => {
    await deliverAll(modern, 'modern.test');
  });

  it("an RFC 821 server's 552 5.5.3 is no room too, not a bounce", async () => {
    await deliverAll(old, 'old.test');
  });

  it('a transaction that takes no recipient at all: deferred as 452 4.5.3, not bounced', async () => {
    const id = await submit(relay.smtpPort, ['a@full.test', 'b@full.test']);
    const deferred = await waitFor(async () => {
      const all = await streamEvents(relay.store, messageStream(id));
      const found = all.filter((e) => ['DeliveryDeferred', 'MessageBounced'].includes(e.type));
      return found.length === 2 && found;
    }, 'both recipients settled');
    for (const e of deferred) {
      assert.equal(e.type, 'DeliveryDeferred');
      const { reply } = e.data as { reply: { code: number; enhancedCode: string } };
      assert.deepEqual([reply.code, reply.enhancedCode], [452, '4.5.3']);
    }
    assert.deepEqual(full.transactions, []);
  });
});
