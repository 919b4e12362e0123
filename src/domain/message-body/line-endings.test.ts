import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspectLineEndings, isClean, normalizeLineEndings } from './line-endings.js';
import { SMUGGLING_SEQUENCES } from './smuggling-sequences.js';

const hasOnlyCrlf = (b: Uint8Array): boolean => isClean(inspectLineEndings(b));

describe('line endings', () => {
  it('reports bare CR, bare LF, NUL and the longest line', () => {
    const r = inspectLineEndings(Buffer.from('a\rb\nc\x00\r\nlonger line\r\n'));
    assert.deepEqual(r, { bareCr: 1, bareLf: 1, nul: 1, longestLine: 11 });
  });

  it('leaves canonical CRLF content as it is', () => {
    const clean = Buffer.from('Subject: x\r\n\r\nhello\r\n.dot\r\n');
    assert.deepEqual(Buffer.from(normalizeLineEndings(clean)), clean);
  });

  for (const seq of SMUGGLING_SEQUENCES) {
    it(`normalises ${JSON.stringify(seq)} to CRLF only`, () => {
      const raw = Buffer.from(
        `Subject: outer\r\n\r\nhello${seq}MAIL FROM:<smuggled@victim.example>\r\n`,
      );
      assert.equal(isClean(inspectLineEndings(raw)), false);
      const out = normalizeLineEndings(raw);
      assert.ok(hasOnlyCrlf(out), JSON.stringify(Buffer.from(out).toString('latin1')));
      assert.ok(
        Buffer.from(out).toString('latin1').includes('MAIL FROM:<smuggled@victim.example>'),
      );
    });
  }
});
