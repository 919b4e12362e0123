import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { dkimBody } from 'mailauth/lib/dkim/body/index.js';
import { relaxedBodyHash } from './relaxed-body-hash.js';

const mailauthHash = (body: Buffer): string => {
  const hasher = dkimBody('relaxed', 'sha256', false);
  hasher.update(body);
  return hasher.digest('base64');
};

const sha256 = (canonical: string): string =>
  createHash('sha256').update(canonical, 'latin1').digest('base64');

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
const prng = (seed: number) => {
  let state = seed >>> 0;
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const TOKENS = [
  'a',
  'word',
  'é',
  '\xff',
  ' ',
  '  ',
  '\t',
  ' \t ',
  '\r\n',
  '\r\n',
  '\n',
  '\r',
  ' \r\n',
  '\t\r\n',
  '\r\r\n',
  ' \r',
  '\r ',
  '\0',
  '\r\n\r\n',
];

const randomBody = (next: () => number, tokens: number): Buffer => {
  let text = '';
  for (let i = 0; i < tokens; i++) text += TOKENS[Math.floor(next() * TOKENS.length)];
  return latin1(text);
};

/** About 100 KB of ordinary CRLF text, with a few odd bytes sprinkled in when asked. */
const largeBody = (next: () => number, oddities: number): Buffer => {
  const words = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur', '<p>', '=3D', 'é'];
  let text = '';
  while (text.length < 100_000) {
    let line = '';
    const length = Math.floor(next() * 90);
    while (line.length < length) line += `${words[Math.floor(next() * words.length)]} `;
    text += `${line.trimEnd()}\r\n`;
  }
  const chars = text.split('');
  for (let i = 0; i < oddities; i++) {
    chars[Math.floor(next() * chars.length)] = TOKENS[Math.floor(next() * TOKENS.length)] ?? '';
  }
  return latin1(chars.join(''));
};

describe('relaxedBodyHash', () => {
  it('matches mailauth on 3000 random bodies built from awkward tokens', () => {
    const next = prng(0x5eed);
    for (let i = 0; i < 3000; i++) {
      const body = randomBody(next, Math.floor(next() * (i % 10 === 0 ? 400 : 40)));
      assert.equal(
        relaxedBodyHash(body),
        mailauthHash(body),
        `body ${i}: ${JSON.stringify(body.toString('latin1'))}`,
      );
    }
  });

  it('matches mailauth on random bytes', () => {
    const next = prng(7);
    for (let i = 0; i < 500; i++) {
      const body = Buffer.alloc(Math.floor(next() * 300));
      for (let j = 0; j < body.length; j++) body[j] = Math.floor(next() * 256);
      assert.equal(relaxedBodyHash(body), mailauthHash(body), `body ${i}: ${body.toString('hex')}`);
    }
  });

  it('matches mailauth on 100 KB bodies, clean and with odd bytes', () => {
    const next = prng(42);
    for (const oddities of [0, 0, 1, 3, 20, 200]) {
      const body = largeBody(next, oddities);
      assert.equal(relaxedBodyHash(body), mailauthHash(body), `oddities ${oddities}`);
    }
  });

  it('gives the RFC 6376 canonical form for ordinary bodies', () => {
    const cases: Array<[string, string]> = [
      ['', ''],
      ['\r\n', ''],
      ['\r\n\r\n\r\n', ''],
      [' \r\n\t\r\n', ''],
      ['a', 'a\r\n'],
      ['a\r\n\r\n', 'a\r\n'],
      [' C \r\nD \t E\r\n\r\n\r\n', ' C\r\nD E\r\n'],
      ['a\tb  c\t \r\n', 'a b c\r\n'],
      ['a\nb\n', 'a\r\nb\r\n'],
      ['x\r\n \r\ny', 'x\r\n\r\ny\r\n'],
      ['\0\xe9\r\n', '\0\xe9\r\n'],
    ];
    for (const [body, canonical] of cases) {
      assert.equal(relaxedBodyHash(latin1(body)), sha256(canonical), JSON.stringify(body));
      assert.equal(mailauthHash(latin1(body)), sha256(canonical), JSON.stringify(body));
    }
  });

  it('follows mailauth where it departs from the RFC', () => {
    const cases: Array<[string, string]> = [
      // the last line, without CRLF, keeps a single trailing space
      ['a ', 'a \r\n'],
      [' ', ' \r\n'],
      // ... but not two, nor a tab
      ['a  ', 'a\r\n'],
      ['a\t', 'a\r\n'],
      // a space before a bare CR stays on a line that is otherwise clean
      ['a \r\r\nb', 'a \r\r\nb\r\n'],
      // trailing bare CRs are dropped with the empty lines
      ['a\r', 'a\r\n'],
      ['a\r\n\r', 'a\r\n'],
      // a rewritten line moves a space across a bare CR
      ['a\t\r b\r\n', 'a \rb\r\n'],
    ];
    for (const [body, canonical] of cases) {
      assert.equal(mailauthHash(latin1(body)), sha256(canonical), JSON.stringify(body));
      assert.equal(relaxedBodyHash(latin1(body)), sha256(canonical), JSON.stringify(body));
    }
  });
});
