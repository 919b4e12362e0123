import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WEBHOOK_EVENT_KINDS } from '../webhook/notification.js';
import {
  accepted,
  BOB,
  context,
  delivered,
  everyKind,
  hardBounce,
  type Json,
  notify,
  summary,
  T0,
} from './fixtures.test-support.js';
import { NATIVE_SCHEMA, nativeFormat } from './native.js';

describe('native webhook payloads', () => {
  it('carry the event as recorded, the message, and where it sits in the log', () => {
    const n = notify(hardBounce);
    assert.deepEqual(nativeFormat.render([n], context), {
      schema: 'mailtrail.webhook/1',
      kind: 'bounced',
      position: '1234',
      at: new Date(T0 + 3_000).toISOString(),
      recipient: 'ann@example.com',
      event: { type: 'MessageBounced', data: hardBounce.data },
      message: summary,
    });
    assert.equal(NATIVE_SCHEMA, 'mailtrail.webhook/1');
  });

  it('keeps positions past 2^53 exact, as decimal strings', () => {
    const position = 2n ** 63n - 1n;
    const body = nativeFormat.render([notify(delivered, { position })], context) as Json;
    assert.equal(body.position, '9223372036854775807');
    assert.equal((JSON.parse(JSON.stringify(body)) as Json).position, '9223372036854775807');
  });

  it('tells each recipient of an acceptance apart', () => {
    const body = nativeFormat.render([{ ...notify(accepted), recipient: BOB }], context) as Json;
    assert.equal(body.recipient, BOB);
    assert.equal(body.kind, 'accepted');
  });

  it('has every kind, one per request, and every payload survives JSON', () => {
    assert.deepEqual([...nativeFormat.kinds].sort(), [...WEBHOOK_EVENT_KINDS].sort());
    assert.equal(nativeFormat.batchSize, 1);
    for (const n of everyKind()) {
      const body = nativeFormat.render([n], context) as Json;
      assert.equal(body.kind, n.kind);
      assert.deepEqual(JSON.parse(JSON.stringify(body)), body);
    }
    assert.throws(() => nativeFormat.render([], context), { name: 'RangeError' });
  });
});
