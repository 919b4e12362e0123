import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { seededRandom } from '../../../test/support/seeded-random.js';
import { mimeTreeBytes } from './mime-tree-bytes.js';

type MailOptions = ConstructorParameters<typeof MailComposer>[0];

// Two trees from the same options are the same tree: boundaries, Message-ID and Date fixed.
const FIXED = {
  baseBoundary: 'fixedbase',
  messageId: '<fixed@mailtrail.test>',
  date: new Date('2026-11-29T08:00:00Z'),
} as const;

const compile = (options: MailOptions) => new MailComposer({ ...FIXED, ...options }).compile();

const assertSameAsBuild = async (options: MailOptions, label: string) => {
  const expected = await compile(options).build();
  const actual = mimeTreeBytes(compile(options));
  assert.ok(actual, `${label}: written in one pass`);
  assert.equal(actual.toString('latin1'), expected.toString('latin1'), label);
};

// What makes transfer encodings interesting: whitespace before line ends, '=', long unbroken
// runs, non-ASCII (2, 3 and 4 UTF-8 bytes), CRLF, lone CR and LF, dots at line starts.
const PIECES = [
  'word ',
  'Hello',
  ' ',
  '\t',
  '=',
  '.',
  'é',
  'Zürich ',
  '日本語',
  '🙂',
  '\r\n',
  '\n',
  '\r',
  ' \r\n',
  '\t\r\n',
  '\r\n.',
  'x'.repeat(90),
  'https://shop.test/orders/10452/tracking?utm_source=mail&utm_medium=email ',
  '<a href="https://shop.test/x">link</a>',
];

const text = (next: () => number, maxPieces: number): string =>
  Array.from(
    { length: Math.floor(next() * maxPieces) },
    () => PIECES[Math.floor(next() * PIECES.length)],
  ).join('');

const bytes = (next: () => number, max: number): Buffer =>
  Buffer.from(Array.from({ length: Math.floor(next() * max) }, () => Math.floor(next() * 256)));

describe('mimeTreeBytes: a compiled MailComposer tree in one pass', () => {
  it('gives the bytes build() gives, for generated messages of every shape', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const next = seededRandom(seed);
      const pick = () => next() < 0.5;
      const options: MailOptions = {
        from: { name: pick() ? 'Zoë Müller' : 'Shop', address: 'orders@shop.test' },
        to: [{ name: pick() ? '山田 太郎' : '', address: 'customer@receiver.test' }],
        ...(pick() ? { cc: [{ name: 'Copy', address: 'cc@receiver.test' }] } : {}),
        subject: text(next, 12),
        ...(pick() ? { text: text(next, 400) } : {}),
        ...(pick() ? { html: `<p>${text(next, 400)}</p>` } : {}),
        ...(next() < 0.15 ? { amp: `<html amp4email>${text(next, 50)}</html>` } : {}),
        ...(pick() ? { headers: [{ key: 'X-Campaign', value: text(next, 6) }] } : {}),
        attachments: Array.from({ length: Math.floor(next() * 3) }, (_, i) =>
          pick()
            ? { filename: `file-${i}.bin`, content: bytes(next, 3000) }
            : {
                filename: `note-${i}.txt`,
                content: text(next, 200),
                ...(pick()
                  ? { cid: `img-${i}@shop.test`, contentDisposition: 'inline' as const }
                  : {}),
              },
        ),
      };
      await assertSameAsBuild(options, `seed ${seed}`);
    }
  });

  it('ends a single-part message with a line break, as build() does', async () => {
    await assertSameAsBuild({ text: 'no line break at the end' }, 'plain text');
    await assertSameAsBuild({ text: 'ends in CR\r' }, 'text ending in CR');
    await assertSameAsBuild({ text: '' }, 'empty text');
    await assertSameAsBuild({ subject: 'headers only' }, 'no body');
  });

  it('leaves to build() what has to be read or streamed', () => {
    assert.equal(
      mimeTreeBytes(compile({ text: 'x', attachments: [{ content: Readable.from(['a']) }] })),
      null,
      'a stream',
    );
    assert.equal(
      mimeTreeBytes(compile({ text: 'x', attachments: [{ path: '/etc/hostname' }] })),
      null,
      'a file',
    );
    assert.equal(
      mimeTreeBytes(
        compile({
          text: 'x',
          attachments: [
            {
              filename: 'data.bin',
              content: Buffer.from('a\rb\nc'),
              contentTransferEncoding: 'quoted-printable',
            },
          ],
        }),
      ),
      null,
      'quoted-printable outside text',
    );
    assert.equal(mimeTreeBytes(compile({ raw: 'Subject: raw\r\n\r\nbody\r\n' })), null, 'raw');
    assert.equal(mimeTreeBytes(compile({ text: 'x', newline: '\n' })), null, 'a newline rewrite');
  });
});
