import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectiveEnhancedCode, parseSmtpReply, replyClass } from './smtp-reply.js';

describe('parseSmtpReply', () => {
  it('reads the basic code, the enhanced code and the text', () => {
    assert.deepEqual(parseSmtpReply('550 5.1.1 <x@y>: No such user'), {
      code: 550,
      enhancedCode: '5.1.1',
      text: '<x@y>: No such user',
    });
  });

  it('takes the enhanced code from the first line of a multi-line reply and keeps all text', () => {
    const reply = parseSmtpReply('451-4.7.1 line one\r\n451 4.7.1 line two');
    assert.equal(reply.enhancedCode, '4.7.1');
    assert.equal(reply.text, 'line one line two');
  });

  it('has no enhanced code when the server sent none, and derives the class default', () => {
    const reply = parseSmtpReply('550 No such user');
    assert.equal(reply.enhancedCode, null);
    assert.equal(effectiveEnhancedCode(reply), '5.0.0');
  });

  it('drops an enhanced code whose class contradicts the basic code', () => {
    assert.equal(parseSmtpReply('552 4.3.1 too big').enhancedCode, null);
  });

  it('classifies replies', () => {
    assert.equal(replyClass(parseSmtpReply('250 2.0.0 ok')), 'success');
    assert.equal(replyClass(parseSmtpReply('421 4.4.2 bye')), 'transient');
    assert.equal(replyClass(parseSmtpReply('554 5.7.1 no')), 'permanent');
  });
});
