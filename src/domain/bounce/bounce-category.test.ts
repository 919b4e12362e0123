import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSmtpReply } from '../smtp-reply/smtp-reply.js';
import { classifyReply } from './bounce-category.js';

const category = (reply: string) => classifyReply(parseSmtpReply(reply));

describe('bounce categories', () => {
  it('maps enhanced codes to PowerMTA categories, naming the rule', () => {
    assert.deepEqual(category('550 5.1.1 no such user'), {
      category: 'bad-mailbox',
      rule: 'code:x.1.1',
    });
    assert.equal(category('556 5.1.10 null MX').category, 'bad-domain');
    assert.equal(category('552 5.2.2 mailbox full').category, 'quota-issues');
    assert.equal(category('421 4.4.2 timeout').category, 'bad-connection');
    assert.equal(category('554 5.7.1 relaying denied').category, 'policy-related');
    assert.equal(category('451 4.3.0 later').category, 'other');
  });

  it('x.1.1 does not swallow x.1.10', () => {
    assert.equal(category('556 5.1.10 null MX').rule, 'code:x.1.10');
  });

  it('text beats a misused code', () => {
    assert.equal(category('550 5.7.1 listed at spamhaus').category, 'spam-related');
  });
});
