import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainNameError, isSameOrSubdomain, normalizeDomainName } from './domain-name.js';
import { datedSelector } from './selectors.js';
import { isAuthorizedSender } from './sender-authorization.js';

describe('sending domain names', () => {
  it('normalizes case, a trailing dot and IDNs', () => {
    assert.equal(normalizeDomainName('Shop.Example.COM.'), 'shop.example.com');
    assert.equal(normalizeDomainName('bücher.example'), 'xn--bcher-kva.example');
  });

  for (const bad of [
    '',
    'localhost',
    'user@example.com',
    '-bad.example',
    'a..example',
    'exa mple.com',
    '192.168.1.1',
    `${'a'.repeat(64)}.example`,
    'http://x.example',
  ])
    it(`refuses ${JSON.stringify(bad)} with a reason`, () => {
      assert.throws(
        () => normalizeDomainName(bad),
        (e) =>
          e instanceof DomainNameError && e.code === 'InvalidDomainName' && e.message.includes(':'),
      );
    });

  it('subdomains belong to their parent, look-alikes do not', () => {
    assert.equal(isSameOrSubdomain('mail.shop.test', 'shop.test'), true);
    assert.equal(isSameOrSubdomain('shop.test', 'shop.test'), true);
    assert.equal(isSameOrSubdomain('badshop.test', 'shop.test'), false);
    assert.equal(isAuthorizedSender('news.shop.test', ['other.test', 'shop.test']), true);
    assert.equal(isAuthorizedSender('', ['shop.test']), false);
  });

  it('selectors are dated and never reused', () => {
    const at = Date.UTC(2026, 10, 27);
    assert.equal(datedSelector('rsa-sha256', at, new Set()), 'mt20261127-rsa');
    assert.equal(datedSelector('ed25519-sha256', at, new Set(['mt20261127-ed'])), 'mt20261127b-ed');
  });
});
