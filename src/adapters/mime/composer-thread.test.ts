import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { composeMime, type MimeFields } from './compose-mime.js';
import { type MimeComposer, startComposerThread } from './composer-thread.js';

const DATE = new Date('2026-11-29T08:00:00Z');

const fields = (overrides: Partial<MimeFields> = {}): MimeFields => ({
  from: { address: 'orders@shop.test', name: 'Zürich Shop' },
  to: [{ address: 'ann@example.test', name: 'Ann' }],
  cc: [],
  replyTo: [],
  subject: 'Your order 10452 🙂',
  text: 'Thank you.\r\nYour order is on its way.',
  html: '<p>Thank you. <img src="cid:logo"></p>',
  ampHtml: null,
  headers: [['X-Order', '10452']],
  attachments: [],
  ...overrides,
});

// Each composition picks its own random MIME boundaries; everything else is determined.
const sameBoundaries = (bytes: Buffer): string =>
  bytes.toString('latin1').replace(/_NmP-[0-9a-f]+-Part_/g, '_NmP-x-Part_');

describe('startComposerThread: API messages composed on a thread of their own', () => {
  let composer: MimeComposer;
  before(async () => {
    composer = await startComposerThread();
  });
  after(() => composer.close());

  it('gives the bytes composeMime gives on the calling thread, attachments included', async () => {
    const message = fields({
      attachments: [
        // A few bytes (they sit in Node's shared buffer pool) and 200 KB (a buffer of its own).
        {
          filename: 'logo.png',
          contentType: 'image/png',
          content: Buffer.from('PNG'),
          contentId: 'logo',
        },
        {
          filename: 'invoice.pdf',
          contentType: null,
          content: randomBytes(200_000),
          contentId: null,
        },
      ],
    });
    const [here, there] = await Promise.all([
      composeMime(message, '<10452@shop.test>', DATE),
      composer.compose(message, '<10452@shop.test>', DATE),
    ]);
    assert.ok(Buffer.isBuffer(there));
    assert.ok(there.length > 270_000, `${there.length} bytes: the base64 attachment is in`);
    assert.equal(sameBoundaries(there), sameBoundaries(here));
  });

  it('answers each of many requests made at once with its own message, byte for byte', async () => {
    const messages = Array.from({ length: 200 }, (_, i) =>
      fields({ subject: `Order ${i}`, text: `body ${i}`, html: null }),
    );
    const composed = await Promise.all(
      messages.map((m, i) => composer.compose(m, `<${i}@shop.test>`, DATE)),
    );
    for (const [i, bytes] of composed.entries()) {
      const expected = await composeMime(messages[i] as MimeFields, `<${i}@shop.test>`, DATE);
      assert.equal(sameBoundaries(bytes), sameBoundaries(expected), `message ${i}`);
    }
  });

  it('fails only the message that cannot be composed, with the reason', async () => {
    const broken = fields({
      // Not bytes: what a bug upstream could hand it.
      attachments: [
        { filename: 'a', contentType: null, content: 5 as unknown as Buffer, contentId: null },
      ],
    });
    const [bad, good] = await Promise.allSettled([
      composer.compose(broken, '<bad@shop.test>', DATE),
      composer.compose(fields(), '<good@shop.test>', DATE),
    ]);
    assert.equal(bad.status, 'rejected');
    assert.match(String((bad as PromiseRejectedResult).reason), /argument must be/);
    assert.equal(good.status, 'fulfilled');
  });
});
