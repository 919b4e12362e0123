import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isDeliverableAddress,
  isHeaderName,
  isSafeHeaderValue,
  parseMailboxList,
} from './mailbox.js';

describe('mailboxes from the HTTP APIs', () => {
  it('parses display names and lists', () => {
    assert.deepEqual(parseMailboxList('Ann Example <ann@x.test>, bob@y.test'), {
      ok: true,
      mailboxes: [
        { address: 'ann@x.test', name: 'Ann Example' },
        { address: 'bob@y.test', name: null },
      ],
    });
  });

  it('refuses what routing could misread, and controls', () => {
    for (const bad of [
      'user%other@relay.test',
      'a!b@relay.test',
      '@a.test:user@b.test',
      '"two words"@x.test',
      'user@[127.0.0.1]',
      'user@localhost',
      'user@x@relay.test',
      'no-at-sign',
      'ann@x.test\r\nBcc: evil@y.test',
    ])
      assert.equal(parseMailboxList(bad).ok, false, bad);
    assert.equal(isDeliverableAddress('first.last+tag@sub.example.co.uk'), true);
  });

  it('tells safe header names and values from injection', () => {
    assert.equal(isSafeHeaderValue('plain value'), true);
    assert.equal(isSafeHeaderValue('x\r\nBcc: y@z.test'), false);
    assert.equal(isHeaderName('X-Custom'), true);
    assert.equal(isHeaderName('Bad:Name'), false);
    assert.equal(isHeaderName('Bad Name'), false);
  });
});
