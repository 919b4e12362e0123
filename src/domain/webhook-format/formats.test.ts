import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { context, everyKind } from './fixtures.test-support.js';
import { WEBHOOK_FORMATS, webhookFormat } from './formats.js';
import { WEBHOOK_FORMAT_NAMES } from './webhook-format.js';

describe('webhook formats', () => {
  it('there is one format for every name, found by its name', () => {
    assert.deepEqual(Object.keys(WEBHOOK_FORMATS).sort(), [...WEBHOOK_FORMAT_NAMES].sort());
    for (const name of WEBHOOK_FORMAT_NAMES) {
      assert.equal(webhookFormat(name).name, name);
      assert.equal(webhookFormat(name), WEBHOOK_FORMATS[name]);
    }
  });

  it('only SendGrid batches; every format renders each kind it has, the same way twice', () => {
    for (const name of WEBHOOK_FORMAT_NAMES) {
      const format = webhookFormat(name);
      assert.equal(format.batchSize, name === 'sendgrid' ? 100 : 1, name);
      for (const n of everyKind().filter((n) => format.kinds.has(n.kind))) {
        const body = format.render([n], context);
        assert.deepEqual(format.render([n], context), body, `${name} ${n.kind}`);
        assert.doesNotThrow(() => JSON.stringify(body), `${name} ${n.kind}`);
      }
    }
  });
});
