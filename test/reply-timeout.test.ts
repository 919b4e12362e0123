/**
 * How long the relay waits for a remote's reply (`delivery.replyTimeout`, 10 minutes by
 * default as RFC 5321 §4.5.3.2.6 gives the final dot): within it the message is delivered
 * once; past it the attempt is deferred. Smart sinks that answer the final dot late play
 * the receivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../src/apps/config/load-config.js';
import { firstOutcome } from './support/fixtures.js';
import { type Sink, startSink, submit, type TestRelay } from './support/relay-harness.js';
import { startShapedRelay } from './support/shaped-relay.js';

describe('the wait for a reply', () => {
  let relay: TestRelay;
  let slow: Sink; // 127.0.0.85: answers the final dot after 1 s
  let slower: Sink; // 127.0.0.86: after 4 s

  before(async () => {
    slow = await startSink('127.0.0.85', { answerDelayMs: 1000 });
    slower = await startSink('127.0.0.86', { answerDelayMs: 4000 });
    relay = await startShapedRelay(
      ['domains:', '  slower.test: { retry: [1h] }'],
      {
        'slow.test': { host: '127.0.0.85', sink: slow },
        'slower.test': { host: '127.0.0.86', sink: slower },
      },
      { delivery: { replyTimeout: '2500ms' } },
    );
  });
  after(async () => {
    await relay.cleanup();
    await slow.close();
    await slower.close();
  });

  const settled = (id: string) => firstOutcome(relay.store, id);

  it('is 10 minutes unless configured', () => {
    assert.equal(parseConfig({}).delivery.replyTimeout, 600_000);
  });

  it('a reply within it: delivered once', async () => {
    const outcome = await settled(await submit(relay.smtpPort, ['ann@slow.test']));
    assert.equal(outcome.type, 'MessageDelivered');
  });

  it('a reply later than that: the attempt is deferred', async () => {
    const outcome = await settled(await submit(relay.smtpPort, ['bob@slower.test']));
    assert.equal(outcome.type, 'DeliveryDeferred');
    const { reply } = outcome.data as { reply: { code: number; text: string } };
    assert.equal(reply.code, 451);
    assert.match(reply.text, /timeout/i);
  });
});
