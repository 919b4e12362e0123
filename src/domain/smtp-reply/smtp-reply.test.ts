import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  effectiveEnhancedCode,
  noRoomForRecipient,
  parseSmtpReply,
  rcptRefusal,
  replyClass,
} from './smtp-reply.js';

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

describe('a RCPT refused for want of room in the transaction', () => {
  const noRoom = (raw: string) => noRoomForRecipient(parseSmtpReply(raw));

  it('is 452 or 552 with X.5.3, or saying too many recipients', () => {
    assert.equal(noRoom('452 4.5.3 Too many recipients'), true);
    assert.equal(noRoom('452 Too many recipients received this hour'), true);
    assert.equal(noRoom('552 5.5.3 Error: too many recipients'), true);
    assert.equal(noRoom('552 Too many recipients'), true);
    assert.equal(noRoom('452 4.2.2 Mailbox full'), false);
    assert.equal(noRoom('552 5.2.2 Mailbox full'), false);
    assert.equal(noRoom('550 5.5.3 too many recipients'), false);
  });

  it('an RFC 821 552 is recorded as the 452 RFC 5321 asks for; a full mailbox stays 552', () => {
    assert.deepEqual(rcptRefusal(parseSmtpReply('552 5.5.3 Error: too many recipients')), {
      code: 452,
      enhancedCode: '4.5.3',
      text: 'Error: too many recipients',
    });
    const full = parseSmtpReply('552 5.2.2 Mailbox full');
    assert.deepEqual(rcptRefusal(full), full);
    const modern = parseSmtpReply('452 4.5.3 Too many recipients');
    assert.deepEqual(rcptRefusal(modern), modern);
  });
});
