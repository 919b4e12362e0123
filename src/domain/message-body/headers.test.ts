import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHeaderFields, summarizeHeaders, withoutHeaderFields } from './headers.js';

const message = (text: string) => Buffer.from(text, 'latin1');

describe('header fields', () => {
  it('drops the named fields with their continuation lines, and nothing else', () => {
    const input = message(
      'From: a@b.test\r\nx-mailtrail-pool: second\r\n  (folded)\r\nSubject: hi\r\nX-Mailtrail-Lane: bulk\r\n\r\nX-Mailtrail-Pool: in the body stays\r\n',
    );
    assert.equal(
      withoutHeaderFields(input, ['X-Mailtrail-Pool', 'X-Mailtrail-Lane']).toString('latin1'),
      'From: a@b.test\r\nSubject: hi\r\n\r\nX-Mailtrail-Pool: in the body stays\r\n',
    );
  });

  it('returns the very same buffer when there is nothing to drop', () => {
    const input = message('From: a@b.test\r\nSubject: x\r\n\r\nbody\r\n');
    assert.equal(withoutHeaderFields(input, ['X-Mailtrail-Pool']), input);
    const headless = message('\r\nbody only\r\n');
    assert.equal(withoutHeaderFields(headless, ['X-Mailtrail-Pool']), headless);
  });

  it('unfolds a value folded before its first word without a blank in front', () => {
    const fields = parseHeaderFields(
      message(
        'Message-ID:\r\n <01ABC@notifications.mail.example-company.co.uk>\r\nSubject: a\r\n\tb\r\n\r\n',
      ),
    );
    assert.deepEqual(fields, [
      ['Message-ID', '<01ABC@notifications.mail.example-company.co.uk>'],
      ['Subject', 'a b'],
    ]);
  });

  it('reads the lane and the pool from the headers', () => {
    const summary = (text: string) => summarizeHeaders(parseHeaderFields(message(text)));
    assert.equal(summary('Precedence: bulk\r\n\r\n').lane, 'bulk');
    assert.equal(summary('X-Mailtrail-Lane: BULK\r\n\r\n').lane, 'bulk');
    assert.equal(summary('Precedence: junk\r\n\r\n').lane, 'transactional');
    assert.equal(summary('X-Mailtrail-Pool: second\r\n\r\n').pool, 'second');
  });
});
