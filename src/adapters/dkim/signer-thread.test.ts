import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  type DkimAlgorithm,
  generateDkimKeyPair,
  type SigningKey,
  signMessage,
} from './dkim-signer.js';
import { type DkimSigner, startSignerThreads } from './signer-thread.js';

const AT = Date.UTC(2026, 10, 29, 8, 0, 0);

const key = (algorithm: DkimAlgorithm, selector: string): SigningKey => ({
  domain: 'shop.test',
  selector,
  algorithm,
  privateKey: createPrivateKey(generateDkimKeyPair(algorithm).privateKeyPem),
});
const KEYS = [key('rsa-sha256', 'rsa1'), key('ed25519-sha256', 'ed1')];

const message = (subject: string, body = 'Thank you.\r\n'): Buffer =>
  Buffer.from(
    `From: Shop <orders@shop.test>\r\nTo: ann@example.test\r\nSubject: ${subject}\r\n` +
      `Date: Sun, 29 Nov 2026 08:00:00 +0000\r\nMessage-ID: <${subject}@shop.test>\r\n\r\n${body}`,
  );

describe('startSignerThreads: DKIM signatures made on threads of their own', () => {
  let signer: DkimSigner;
  before(async () => {
    signer = await startSignerThreads(2);
  });
  after(() => signer.close());

  // RSA (PKCS#1 v1.5) and Ed25519 signatures are both deterministic: the thread's must be
  // the very bytes signMessage makes here (which dkim-signer.test.ts verifies with mailauth).
  it('gives the signatures signMessage gives on the calling thread, for each of many at once', async () => {
    const messages = Array.from({ length: 100 }, (_, i) =>
      // A few bytes (in Node's shared buffer pool) and, every tenth, 300 KB of its own.
      message(`order-${i}`, i % 10 === 0 ? 'x'.repeat(300_000) : `body ${i}\r\n`),
    );
    const signed = await Promise.all(messages.map((m) => signer.sign(m, KEYS, AT)));
    for (const [i, m] of messages.entries()) {
      assert.deepEqual(signed[i], signMessage(m, KEYS, AT), `message ${i}`);
      assert.match(signed[i]?.headers ?? '', /^DKIM-Signature: .*\r\nDKIM-Signature: .*\r\n$/s);
    }
  });

  it('fails only the message whose key does not fit, with the reason', async () => {
    const [rsa, ed] = KEYS as [SigningKey, SigningKey];
    const [bad, good] = await Promise.allSettled([
      signer.sign(message('bad'), [{ ...ed, algorithm: 'rsa-sha256' }], AT),
      signer.sign(message('good'), [rsa], AT),
    ]);
    assert.equal(bad.status, 'rejected');
    assert.match(String((bad as PromiseRejectedResult).reason), /is ed25519, not rsa-sha256/);
    assert.deepEqual(good, { status: 'fulfilled', value: signMessage(message('good'), [rsa], AT) });
  });
});
