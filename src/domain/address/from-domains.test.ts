import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromDomains } from './from-domains.js';

describe('fromDomains', () => {
  it('gives the lower-case domain of every address in the field', () => {
    assert.deepEqual(fromDomains('Shop <Orders@Shop.TEST>'), ['shop.test']);
    assert.deepEqual(fromDomains('a@one.test, "B, Jr." <b@two.test>'), ['one.test', 'two.test']);
    assert.deepEqual(fromDomains('Team: a@one.test, b@two.test;'), ['one.test', 'two.test']);
  });

  it('gives nothing for a missing field or one without an address', () => {
    assert.deepEqual(fromDomains(null), []);
    assert.deepEqual(fromDomains('undisclosed-recipients:;'), []);
    assert.deepEqual(fromDomains('not an address'), []);
  });

  it('answers a From: it has seen with the same frozen list', () => {
    const first = fromDomains('News <news@letters.test>');
    assert.equal(fromDomains('News <news@letters.test>'), first);
    assert.ok(Object.isFrozen(first), 'no caller can change what the next one gets');
  });
});
