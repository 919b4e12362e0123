import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMessageIdFactory } from './message-ids.js';

describe('message ids', () => {
  it('are 26-character ULIDs, unique and increasing in generation order', () => {
    const next = createMessageIdFactory();
    const ids = Array.from({ length: 5000 }, () => next());
    for (const id of ids) assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids);
  });
});
