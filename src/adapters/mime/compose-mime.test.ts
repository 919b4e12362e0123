import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { composeMime, type MimeFields } from './compose-mime.js';

const FIELDS: MimeFields = {
  from: { address: 'orders@shop.test', name: 'Shop' },
  to: [{ address: 'ann@example.test', name: 'Ann' }],
  cc: [],
  replyTo: [],
  subject: 'Your order',
  text: 'Your order is on its way.',
  html: '<p>Your order is on its way.</p>',
  ampHtml: null,
  headers: [],
  attachments: [
    { filename: 'a.txt', contentType: 'text/plain', content: Buffer.from('hi'), contentId: null },
  ],
};

const boundaries = (bytes: Buffer): string[] =>
  [...bytes.toString('latin1').matchAll(/boundary="([^"]+)"/g)].map((m) => m[1] as string);

describe('composeMime', () => {
  it('gives every message boundaries of its own, shared by none of its parts', async () => {
    const date = new Date('2026-11-29T08:00:00Z');
    const [first, second] = await Promise.all([
      composeMime(FIELDS, '<1@shop.test>', date),
      composeMime(FIELDS, '<2@shop.test>', date),
    ]);
    const a = boundaries(first);
    const b = boundaries(second);
    assert.equal(a.length, 2, 'mixed and alternative');
    assert.equal(new Set(a).size, 2);
    assert.ok(
      a.every((boundary) => !b.includes(boundary)),
      `${a.join(', ')} against ${b.join(', ')}`,
    );
    const parsed = await simpleParser(first);
    assert.equal(parsed.text?.trim(), 'Your order is on its way.');
    assert.equal(parsed.attachments[0]?.content.toString(), 'hi');
  });
});
