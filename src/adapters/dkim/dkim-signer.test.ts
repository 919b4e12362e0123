import assert from 'node:assert/strict';
import {
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import { describe, it } from 'node:test';
import { dkimVerify } from 'mailauth';
import { dkimTxtValue } from '../../domain/sending-domain/dns-records.js';
import {
  type DkimAlgorithm,
  generateDkimKeyPair,
  type SigningKey,
  signMessage,
} from './dkim-signer.js';

const AT = Date.UTC(2025, 0, 15, 12, 0, 0, 500);

const records = new Map<string, string>();
const makeKey = (algorithm: DkimAlgorithm, selector: string): SigningKey => {
  const { privateKeyPem, publicKeyDns } = generateDkimKeyPair(algorithm);
  records.set(
    `${selector}._domainkey.example.com`,
    dkimTxtValue({ selector: 'any', algorithm: algorithm, publicKey: publicKeyDns }),
  );
  return {
    domain: 'example.com',
    selector,
    algorithm,
    privateKey: createPrivateKey(privateKeyPem),
  };
};
const rsa = makeKey('rsa-sha256', 'rsa1');
const ed = makeKey('ed25519-sha256', 'ed1');
const KEYS = [rsa, ed];

const resolver = async (name: string, type: string): Promise<string[][]> => {
  const txt = type === 'TXT' ? records.get(name) : undefined;
  if (!txt) throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
  return [[txt]];
};

const crlf = (lines: string[]): string => lines.join('\r\n');

const MESSAGE = crlf([
  'From: Alice <alice@example.com>',
  'To: bob@example.net',
  'Subject: Hello there,',
  '   folded subject',
  'Date: Wed, 15 Jan 2025 12:00:00 +0000',
  'Message-ID: <1@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'X-Mailer: not signed',
  '',
  'Hi Bob,',
  '',
  'a line with  two spaces and a\ttab  ',
  '',
  '',
]);

const sign = (message: string, at = AT) => {
  const signed = signMessage(Buffer.from(message), KEYS, at);
  return { ...signed, message: signed.headers + message };
};

const verify = async (message: string) => {
  const { results } = await dkimVerify(Buffer.from(message), { resolver });
  return results.map((result) => ({
    selector: result.selector,
    result: result.status.result,
    comment: result.status.comment,
  }));
};

const tagOf = (field: string, tag: string): string => {
  const unfolded = field.replace(/\r\n/g, '').replace(/\s+/g, '');
  const match = unfolded.match(new RegExp(`(?:^|;)${tag}=([^;]*)`));
  assert.ok(match, `${tag}= in ${field}`);
  return match[1] ?? '';
};

/** The DKIM-Signature fields of `headers`, one string each. */
const fieldsOf = (headers: string): string[] =>
  headers
    .split(/\r\n(?![ \t])/)
    .filter(Boolean)
    .map((field) => field.replace(/^DKIM-Signature:/, ''));

describe('signMessage', () => {
  it('signs with RSA-2048 and Ed25519 so that mailauth verifies both', async () => {
    const signed = sign(MESSAGE);
    assert.deepEqual(signed.signatures, [
      { domain: 'example.com', selector: 'rsa1', algorithm: 'rsa-sha256' },
      { domain: 'example.com', selector: 'ed1', algorithm: 'ed25519-sha256' },
    ]);
    assert.match(signed.headers, /^DKIM-Signature: .*\r\nDKIM-Signature: .*\r\n$/s);
    for (const line of signed.headers.split('\r\n')) assert.ok(line.length <= 78, line);
    assert.deepEqual(await verify(signed.message), [
      { selector: 'rsa1', result: 'pass', comment: undefined },
      { selector: 'ed1', result: 'pass', comment: undefined },
    ]);
  });

  it('lists the present fields bottom-up and From once more, relaxed/relaxed, t= from `at`', async () => {
    const [rsaField, edField] = fieldsOf(sign(MESSAGE).headers);
    for (const field of [rsaField ?? '', edField ?? '']) {
      assert.equal(
        tagOf(field, 'h'),
        'Content-Type:MIME-Version:Message-ID:Date:Subject:To:From:From',
      );
      assert.equal(
        tagOf(field, 'h')
          .toLowerCase()
          .split(':')
          .filter((f) => f === 'from').length,
        2,
      );
      assert.equal(tagOf(field, 'c'), 'relaxed/relaxed');
      assert.equal(tagOf(field, 't'), String(Math.floor(AT / 1000)));
      assert.equal(tagOf(field, 'd'), 'example.com');
    }
    assert.equal(tagOf(rsaField ?? '', 'a'), 'rsa-sha256');
    assert.equal(tagOf(edField ?? '', 'a'), 'ed25519-sha256');
    assert.equal(tagOf(rsaField ?? '', 'bh'), tagOf(edField ?? '', 'bh'));
  });

  it('is deterministic for RSA given `at`, and t= follows `at`', async () => {
    const once = signMessage(Buffer.from(MESSAGE), [rsa], AT).headers;
    assert.equal(signMessage(Buffer.from(MESSAGE), [rsa], AT).headers, once);
    assert.notEqual(signMessage(Buffer.from(MESSAGE), [rsa], AT + 1000).headers, once);
  });

  it('fails on a changed body byte (body hash)', async () => {
    const { message } = sign(MESSAGE);
    const tampered = message.replace('Hi Bob,', 'Hi Bob.');
    assert.notEqual(tampered, message);
    assert.deepEqual(await verify(tampered), [
      { selector: 'rsa1', result: 'neutral', comment: 'body hash did not verify' },
      { selector: 'ed1', result: 'neutral', comment: 'body hash did not verify' },
    ]);
  });

  it('still passes when only the whitespace that relaxed ignores changes', async () => {
    const { message } = sign(MESSAGE);
    const respaced = message
      .replace('two spaces', 'two \t spaces')
      .replace('Subject: Hello there,', 'Subject:   Hello   there,');
    assert.deepEqual(
      (await verify(`${respaced}\r\n\r\n`)).map((r) => r.result),
      ['pass', 'pass'],
    );
  });

  it('fails on a changed Subject', async () => {
    const { message } = sign(MESSAGE);
    const results = await verify(message.replace('folded subject', 'folded subjekt'));
    assert.deepEqual(
      results.map((r) => [r.result, r.comment]),
      [
        ['fail', 'bad signature'],
        ['fail', 'bad signature'],
      ],
    );
  });

  it('fails when a second From is added after signing, below or above the first', async () => {
    const { headers } = sign(MESSAGE);
    const below = MESSAGE.replace('\r\n\r\n', '\r\nFrom: Mallory <m@example.org>\r\n\r\n');
    const above = `From: Mallory <m@example.org>\r\n${MESSAGE}`;
    for (const message of [headers + below, headers + above]) {
      assert.deepEqual(
        (await verify(message)).map((r) => r.result),
        ['fail', 'fail'],
      );
    }
  });

  it('covers Cc, List-Unsubscribe and every instance of a repeated field', async () => {
    const message = crlf([
      'From: alice@example.com',
      'To: bob@example.net',
      'To: carol@example.net',
      'Cc: dave@example.net',
      'Subject: list mail',
      'List-Unsubscribe: <https://example.com/u/1>, <mailto:u@example.com>',
      'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
      '',
      'body',
      '',
    ]);
    const signed = sign(message);
    const [field] = fieldsOf(signed.headers);
    assert.equal(
      tagOf(field ?? '', 'h'),
      'List-Unsubscribe-Post:List-Unsubscribe:Subject:Cc:To:To:From:From',
    );
    assert.deepEqual(
      (await verify(signed.message)).map((r) => r.result),
      ['pass', 'pass'],
    );
    for (const [from, to] of [
      ['Cc: dave@', 'Cc: eve@'],
      ['u/1>', 'u/2>'],
      ['One-Click', 'Two-Click'],
      ['To: carol@', 'To: trent@'],
    ] as const) {
      assert.deepEqual(
        (await verify(signed.message.replace(from, to ?? ''))).map((r) => r.result),
        ['fail', 'fail'],
        from,
      );
    }
  });

  it('signs a message without a body', async () => {
    const headersOnly = 'From: alice@example.com\r\nSubject: nothing\r\n';
    const signed = sign(headersOnly);
    // The same as an empty body after the empty line, which is the form mailauth's
    // verifier needs (it does not find the header end without the empty line).
    const withEmptyLine = sign(`${headersOnly}\r\n`);
    assert.equal(withEmptyLine.headers, signed.headers);
    assert.deepEqual(
      (await verify(withEmptyLine.message)).map((r) => r.result),
      ['pass', 'pass'],
    );
  });

  it('rejects a key whose type does not match its algorithm', () => {
    assert.throws(
      () => signMessage(Buffer.from(MESSAGE), [{ ...ed, algorithm: 'rsa-sha256' }], AT),
      /is ed25519, not rsa-sha256/,
    );
  });
});

describe('generateDkimKeyPair and the TXT record', () => {
  it('gives an RSA-2048 key and its SPKI p= value', async () => {
    const { privateKeyPem, publicKeyDns } = generateDkimKeyPair('rsa-sha256');
    const privateKey = createPrivateKey(privateKeyPem);
    assert.equal(privateKey.asymmetricKeyDetails?.modulusLength, 2048);
    const publicKey = createPublicKey({
      key: Buffer.from(publicKeyDns, 'base64'),
      format: 'der',
      type: 'spki',
    });
    // Compared as keys, not as JWK exports: those can deadlock on Node 20 (generateDkimKeyPair).
    assert.ok(
      publicKey.equals(createPublicKey(privateKey)),
      'p= is the public half of the private key',
    );
    assert.equal(
      dkimTxtValue({ selector: 'any', algorithm: 'rsa-sha256', publicKey: publicKeyDns }),
      `v=DKIM1; k=rsa; p=${publicKeyDns}`,
    );
  });

  it('gives an Ed25519 key and its raw 32-byte p= value (RFC 8463)', async () => {
    const { privateKeyPem, publicKeyDns } = generateDkimKeyPair('ed25519-sha256');
    const privateKey = createPrivateKey(privateKeyPem);
    assert.equal(privateKey.asymmetricKeyType, 'ed25519');
    const raw = Buffer.from(publicKeyDns, 'base64');
    assert.equal(raw.length, 32);
    // The p= value, read back as a key, verifies what the private key signed.
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
      format: 'jwk',
    });
    const data = Buffer.from('p= is the raw key');
    assert.ok(cryptoVerify(null, data, publicKey, cryptoSign(null, data, privateKey)));
    assert.equal(
      dkimTxtValue({ selector: 'any', algorithm: 'ed25519-sha256', publicKey: publicKeyDns }),
      `v=DKIM1; k=ed25519; p=${publicKeyDns}`,
    );
  });
});
