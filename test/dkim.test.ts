/**
 * Sending domains end to end: onboarding makes keys and records, the records are served by
 * a real DNS server on loopback, mail submitted with AUTH leaves signed, and mailauth's
 * verifier (an independent implementation of RFC 6376) checks what the receiving MX got.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { dkimVerify } from 'mailauth';
import nodemailer from 'nodemailer';
import { createFileKeyStore } from '../src/adapters/dkim-keys/file-key-store.js';
import {
  activatePendingKeys,
  addSendingDomain,
  type DomainsDeps,
  pruneRetiredKeys,
  rotateDomainKeys,
  verifySendingDomain,
} from '../src/apps/domains/sending-domains.js';
import { dataPaths } from '../src/apps/relay/data-paths.js';
import type { DnsRecord } from '../src/domain/sending-domain/dns-records.js';
import { activeSigningKeys } from '../src/projections/sending-domains/sending-domains.js';
import { startDnsServer, type Zone } from './support/dns-zone-server.js';
import { acceptedMessages, addCredential, streamEvents } from './support/fixtures.js';
import {
  type Sink,
  startSink,
  startTestRelay,
  type TestRelay,
  waitFor,
} from './support/relay-harness.js';
import { BIN, REPO } from './support/relay-process.js';
import { rawSmtp } from './support/smtp-client.js';

const USER = 'app@shop.test';
const PASS = 'correct horse battery staple';

describe('sending domains: DKIM signing, records, rotation, sender authorization', () => {
  let relay: TestRelay;
  let sink: Sink;
  let dns: Awaited<ReturnType<typeof startDnsServer>>;
  let resolver: Resolver;
  let deps: DomainsDeps;
  const zone: Zone = {};
  const publish = (records: readonly DnsRecord[]) => {
    for (const r of records) {
      const entry = zone[r.name] ?? {};
      zone[r.name] =
        r.type === 'MX'
          ? { ...entry, MX: [{ exchange: r.value.split(' ')[1] as string, priority: 10 }] }
          : { ...entry, TXT: [...(entry.TXT ?? []).filter((t) => t !== r.value), r.value] };
    }
  };

  before(async () => {
    dns = await startDnsServer(zone);
    resolver = new Resolver();
    resolver.setServers([dns.address]);
    sink = await startSink('127.0.0.2', { saveDir: join('/tmp', `mailtrail-dkim-${process.pid}`) });
    relay = await startTestRelay({
      dns: { servers: [dns.address], timeout: '1s' },
      routes: { '*': `[127.0.0.2]:${sink.port}` },
      domains: { egressAddresses: ['127.0.0.1'] },
      dkim: { operatorDomain: 'operator.test' },
      queue: { retry: ['1s'], retryJitter: 0 },
    });
    await addCredential(relay, USER, PASS);
    await addCredential(relay, 'app@tenant.test', PASS);
    deps = {
      store: relay.store,
      readDb: relay.readDb,
      keyStore: createFileKeyStore(dataPaths(relay.config).keys),
      settings: {
        egressAddresses: ['127.0.0.1'],
        bounceHost: 'relay.test',
        returnPathPrefix: 'bounces',
      },
      now: Date.now,
    };
    const shop = await addSendingDomain(deps, { domain: 'Shop.Test', credential: USER });
    publish(shop.records);
    publish((await addSendingDomain(deps, { domain: 'operator.test', credential: null })).records);
    await waitFor(
      () => activeSigningKeys(relay.readDb, ['shop.test', 'operator.test']).length === 4,
      'signing keys in the read model',
    );
  });
  after(async () => {
    await relay.cleanup();
    await sink.close();
    await dns.close();
  });

  const transport = () =>
    nodemailer.createTransport({
      host: '127.0.0.1',
      port: relay.smtpPort,
      requireTLS: true,
      auth: { user: USER, pass: PASS },
      tls: { rejectUnauthorized: false },
    });

  /** Sends as the shop credential and returns the bytes the receiving MX stored. */
  const sendAndReceive = async (extra: Record<string, unknown> = {}) => {
    const to = `user-${Math.random().toString(36).slice(2)}@example.com`;
    const info = await transport().sendMail({
      from: 'Shop <orders@shop.test>',
      to,
      cc: 'copy@example.com',
      subject: 'Your order',
      text: 'Thank you for your order.\n\nLines  with  spaces \t and\ttabs.\n',
      headers: {
        'List-Unsubscribe': '<https://shop.test/u/1>',
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
      ...extra,
    });
    const id = /queued as (\S+)$/.exec(info.response)?.[1] as string;
    const received = await waitFor(
      () => sink.transactions.find((t) => t.to.includes(to)),
      'the sink to receive the message',
    );
    return { id, bytes: readFileSync(received.file as string) };
  };

  const verify = async (bytes: Buffer) =>
    (
      await dkimVerify(bytes, {
        resolver: (name: string, type: string) => resolver.resolve(name, type) as never,
      })
    ).results.map((r) => ({
      domain: r.signingDomain,
      selector: r.selector,
      algorithm: (r as unknown as { algo?: string }).algo ?? r.algorithm, // the typings say algorithm; the results carry algo
      result: r.status.result,
    }));

  it('signs with the From: domain RSA and Ed25519 keys plus the operator domain; all verify', async () => {
    const { id, bytes } = await sendAndReceive();
    const results = await verify(bytes);
    assert.deepEqual(results.map((r) => [r.domain, r.algorithm, r.result]).sort(), [
      ['operator.test', 'ed25519-sha256', 'pass'],
      ['operator.test', 'rsa-sha256', 'pass'],
      ['shop.test', 'ed25519-sha256', 'pass'],
      ['shop.test', 'rsa-sha256', 'pass'],
    ]);
    const header = bytes.toString('latin1').split('\r\n\r\n')[0] as string;
    const h = /DKIM-Signature:[\s\S]*?h=([^;]+);/i.exec(header)?.[1]?.replace(/\s+/g, '') ?? '';
    const signed = h.toLowerCase().split(':');
    for (const name of [
      'from',
      'to',
      'cc',
      'subject',
      'date',
      'message-id',
      'mime-version',
      'content-type',
      'list-unsubscribe',
      'list-unsubscribe-post',
    ])
      assert.ok(signed.includes(name), `h= covers ${name}: ${h}`);
    assert.equal(signed.filter((n) => n === 'from').length, 2, 'From is oversigned');
    const events = await streamEvents(relay.store, `message-${id}`);
    const signedEvent = events.find((e) => e.type === 'MessageSigned');
    assert.ok(signedEvent, 'a MessageSigned event');
    assert.deepEqual(
      (signedEvent.data as { signatures: Array<{ domain: string; algorithm: string }> }).signatures
        .map((s) => `${s.domain} ${s.algorithm}`)
        .sort(),
      [
        'operator.test ed25519-sha256',
        'operator.test rsa-sha256',
        'shop.test ed25519-sha256',
        'shop.test rsa-sha256',
      ],
    );
  });

  it('a changed body or a changed signed header fails verification', async () => {
    const { bytes } = await sendAndReceive();
    const text = bytes.toString('latin1');
    const body = Buffer.from(text.replace('Thank you', 'Thank yoU'), 'latin1');
    const subject = Buffer.from(
      text.replace('Subject: Your order', 'Subject: Your 0rder'),
      'latin1',
    );
    const addedFrom = Buffer.from(
      text.replace('\r\n\r\n', '\r\nFrom: evil@attacker.test\r\n\r\n'),
      'latin1',
    );
    for (const [what, tampered] of [
      ['body', body],
      ['subject', subject],
      ['a second From', addedFrom],
    ] as const) {
      const results = await verify(tampered);
      assert.equal(results.length, 4);
      assert.ok(
        results.every((r) => r.result !== 'pass'),
        `${what}: ${JSON.stringify(results)}`,
      );
    }
  });

  it('a retry sends the bytes signed at acceptance: never signed again', async () => {
    const to = `greylist-${Date.now()}@example.com`;
    const info = await transport().sendMail({
      from: 'orders@shop.test',
      to,
      subject: 'retry',
      text: 'again',
    });
    const id = /queued as (\S+)$/.exec(info.response)?.[1] as string;
    const received = await waitFor(
      () => sink.transactions.find((t) => t.to.includes(to) && t.reply.startsWith('250')),
      'delivery after the greylisting',
    );
    const events = await waitFor(async () => {
      const all = await streamEvents(relay.store, `message-${id}`);
      return all.some((e) => e.type === 'MessageDelivered') && all;
    }, 'MessageDelivered');
    assert.deepEqual(
      events.map((e) => e.type),
      ['MessageAccepted', 'MessageSigned', 'DeliveryDeferred', 'MessageDelivered'],
    );
    const stored = Buffer.from((await relay.store.readBlob(`body-${id}`)) ?? []);
    const delivered = readFileSync(received.file as string);
    assert.ok(delivered.toString('latin1').startsWith('DKIM-Signature:'));
    assert.deepEqual(delivered, stored);
    assert.ok((await verify(delivered)).every((r) => r.result === 'pass'));
  });

  it('a subdomain of an onboarded domain is signed with the organizational domain keys', async () => {
    const { bytes } = await sendAndReceive({ from: 'news@mail.shop.test' });
    const results = await verify(bytes);
    assert.deepEqual(
      results.filter((r) => r.domain === 'shop.test').map((r) => r.result),
      ['pass', 'pass'],
    );
  });

  it('keeps private keys out of the log, in 0600 files', async () => {
    const all: string[] = [];
    for await (const e of relay.store.readAll()) all.push(JSON.stringify(e.data));
    assert.equal(
      all.some((d) => d.includes('PRIVATE KEY')),
      false,
    );
    const [key] = activeSigningKeys(relay.readDb, ['shop.test']);
    const file = join(dataPaths(relay.config).keys, 'shop.test', `${key?.selector}.pem`);
    assert.match(readFileSync(file, 'utf8'), /PRIVATE KEY/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('verify reports each record ok, missing or mismatch, with what DNS holds', async () => {
    const report = await verifySendingDomain(deps, resolver, { domain: 'shop.test' });
    assert.deepEqual(
      report.checks.map((c) => [c.record.kind, c.status]),
      [
        ['dkim', 'ok'],
        ['dkim', 'ok'],
        ['spf', 'ok'],
        ['dmarc', 'ok'],
        ['return-path-mx', 'ok'],
        ['return-path-spf', 'ok'],
      ],
    );
    const dmarc = zone['_dmarc.shop.test'];
    const spf = zone['shop.test'];
    delete zone['_dmarc.shop.test'];
    zone['shop.test'] = { TXT: ['v=spf1 ip4:192.0.2.1 -all'] };
    try {
      const broken = await verifySendingDomain(deps, resolver, { domain: 'shop.test' });
      const by = (kind: string) => broken.checks.find((c) => c.record.kind === kind);
      assert.equal(by('dmarc')?.status, 'missing');
      assert.equal(by('spf')?.status, 'mismatch');
      assert.deepEqual(by('spf')?.found, ['v=spf1 ip4:192.0.2.1 -all']);
      assert.match(by('spf')?.record.value ?? '', /^v=spf1 ip4:127\.0\.0\.1 ~all$/);
    } finally {
      zone['_dmarc.shop.test'] = dmarc as never;
      zone['shop.test'] = spf as never;
    }
  });

  it('`mailtrail domains verify --json` reports the same through the configured resolver', async () => {
    const config = join(relay.dir, 'verify.yaml');
    writeFileSync(
      config,
      [
        `dataDir: ${relay.config.dataDir}`,
        'hostname: relay.test',
        `dns: { servers: ["${dns.address}"] }`,
        'domains: { egressAddresses: ["127.0.0.1"] }',
        '',
      ].join('\n'),
    );
    // Asynchronously: the DNS server the CLI asks runs in this process.
    const cli = (args: string[]) =>
      promisify(execFile)(process.execPath, [BIN, ...args], { cwd: REPO, encoding: 'utf8' }).then(
        (out) => ({ code: 0, stdout: out.stdout, stderr: out.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const r = await cli(['domains', 'verify', 'shop.test', '--json', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as {
      checks: Array<{ record: { kind: string }; status: string }>;
    };
    assert.deepEqual(
      report.checks.map((c) => `${c.record.kind} ${c.status}`),
      ['dkim ok', 'dkim ok', 'spf ok', 'dmarc ok', 'return-path-mx ok', 'return-path-spf ok'],
    );
    const missing = zone['_dmarc.shop.test'];
    delete zone['_dmarc.shop.test'];
    try {
      const bad = await cli(['domains', 'verify', 'shop.test', '--config', config]);
      assert.equal(bad.code, 3, 'not every record is ok');
      assert.match(bad.stdout, /_dmarc\.shop\.test[^\n]*missing/);
      const badJson = await cli(['domains', 'verify', 'shop.test', '--json', '--config', config]);
      assert.equal(badJson.code, 3, 'the same exit code for a script');
    } finally {
      zone['_dmarc.shop.test'] = missing as never;
    }
  });

  it('rotation: old keys sign until the new records are published, and all mail stays verifiable', async () => {
    const before = await sendAndReceive();
    const rotated = await rotateDomainKeys(deps, { domain: 'shop.test', now: false });
    const fresh = rotated.records.filter((r) => r.kind === 'dkim' && r.generation === 2);
    assert.equal(fresh.length, 2);
    // Not yet published: verify sees them missing and signing stays on generation 1.
    const early = await verifySendingDomain(deps, resolver, { domain: 'shop.test' });
    assert.equal(early.activated, null);
    assert.deepEqual(
      early.checks.filter((c) => c.record.generation === 2).map((c) => c.status),
      ['missing', 'missing'],
    );
    const during = await sendAndReceive();
    const selectorsOf = async (bytes: Buffer) =>
      (await verify(bytes))
        .filter((r) => r.domain === 'shop.test')
        .map((r) => r.selector)
        .sort();
    assert.deepEqual(await selectorsOf(during.bytes), await selectorsOf(before.bytes));

    publish(fresh);
    const switched = await verifySendingDomain(deps, resolver, { domain: 'shop.test' });
    assert.equal(switched.activated, 2);
    await waitFor(
      () => activeSigningKeys(relay.readDb, ['shop.test']).every((k) => k.generation === 2),
      'the switch in the read model',
    );
    // The submission side looks signing keys up at most once a second (message-signing.ts).
    await new Promise((r) => setTimeout(r, 1100));
    const after = await sendAndReceive();
    assert.deepEqual(await selectorsOf(after.bytes), fresh.map((r) => r.selector).sort());
    for (const m of [before, during, after])
      assert.ok((await verify(m.bytes)).every((r) => r.result === 'pass'));
  });

  it('retired keys stay until the grace period is over, then go, with the records that can be deleted', async () => {
    // After the rotation above, shop.test's first generation is retired.
    const keys = dataPaths(relay.config).keys;
    const early = await pruneRetiredKeys(deps, { domain: 'shop.test', graceMs: 3_600_000 });
    assert.deepEqual(early.removed, []);
    const retired = early.domain.generations.find((g) => g.status === 'retired');
    assert.ok(retired, 'a retired generation');
    const files = retired.keys.map((k) => join(keys, 'shop.test', `${k.selector}.pem`));
    for (const f of files) assert.ok(statSync(f).isFile());

    const pruned = await pruneRetiredKeys(deps, { domain: 'shop.test', graceMs: 0 });
    assert.deepEqual(
      pruned.removed.map((r) => r.selector).sort(),
      retired.keys.map((k) => k.selector).sort(),
    );
    assert.equal(
      pruned.domain.generations.find((g) => g.generation === retired.generation)?.status,
      'removed',
    );
    for (const f of files) assert.throws(() => statSync(f), /ENOENT/);
    // The signing generation's records are still expected; the removed ones are not.
    assert.ok(pruned.records.every((r) => r.generation !== retired.generation));
  });

  it('activate switches to waiting keys at once; a second rotation waits for the first', async () => {
    await rotateDomainKeys(deps, { domain: 'operator.test', now: false });
    await assert.rejects(
      rotateDomainKeys(deps, { domain: 'operator.test', now: false }),
      /still waiting for its DNS records/,
    );
    const report = await activatePendingKeys(deps, { domain: 'operator.test' });
    assert.deepEqual(
      report.domain.generations.map((g) => g.status),
      ['retired', 'active'],
    );
  });

  it('a credential sending as another tenant gets 550 5.7.1 at MAIL FROM or at the end of DATA; nothing is queued', async () => {
    const queued = (await acceptedMessages(relay.store)).length;
    const c = await rawSmtp(relay.smtpPort);
    await c.read();
    await c.command('EHLO client.test\r\n');
    await c.command('STARTTLS\r\n');
    await c.startTls();
    await c.command('EHLO client.test\r\n');
    const auth = Buffer.from(`\0${USER}\0${PASS}`).toString('base64');
    assert.match(await c.command(`AUTH PLAIN ${auth}\r\n`), /^235 /);
    assert.match(
      await c.command('MAIL FROM:<ceo@tenant.test>\r\n'),
      /^550 5\.7\.1 Sender address rejected: app may not send as tenant\.test/,
    );
    assert.match(await c.command('MAIL FROM:<>\r\n'), /^550 5\.7\.1 .*null sender/);
    assert.match(await c.command('MAIL FROM:<orders@shop.test>\r\n'), /^250 /);
    assert.match(await c.command('RCPT TO:<x@example.com>\r\n'), /^250 /);
    assert.match(await c.command('DATA\r\n'), /^354 /);
    assert.match(
      await c.command('From: ceo@tenant.test\r\nSubject: spoof\r\n\r\nhi\r\n.\r\n'),
      /^550 5\.7\.1 Message refused: app may not send as tenant\.test in From:/,
    );
    c.end();
    await assert.rejects(
      transport().sendMail({ from: 'ceo@shopping.test', to: 'x@example.com', text: 'x' }),
      /550 5\.7\.1/,
    );
    assert.equal((await acceptedMessages(relay.store)).length, queued);
  });
});
