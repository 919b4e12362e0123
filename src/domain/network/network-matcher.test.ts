import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCidr, networkMatcher } from './network-matcher.js';

describe('network matcher', () => {
  it('matches IPv4 and IPv6 networks, and IPv4-mapped IPv6 as IPv4', () => {
    const allowed = networkMatcher(['192.0.2.0/24', '2001:db8::/32']);
    assert.equal(allowed('192.0.2.77'), true);
    assert.equal(allowed('::ffff:192.0.2.77'), true);
    assert.equal(allowed('192.0.3.1'), false);
    assert.equal(allowed('2001:db8:1::5'), true);
    assert.equal(allowed('2001:db9::5'), false);
    assert.equal(allowed('not an address'), false);
  });

  it('matches nothing when given no networks', () => {
    assert.equal(networkMatcher([])('127.0.0.1'), false);
  });

  it('tells CIDR networks from other text', () => {
    assert.equal(isCidr('10.0.0.0/8'), true);
    assert.equal(isCidr('::1/128'), true);
    assert.equal(isCidr('10.0.0.0'), false);
    assert.equal(isCidr('10.0.0.0/33'), false);
  });
});
