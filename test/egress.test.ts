/**
 * Egress sources and pools: each attempt leaves from a source of its message's pool (bound
 * to the source's address, saying its EHLO name); the sink sees which.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { createCredential } from '../src/apps/credentials/create-credential.js';
import { findActiveCredential } from '../src/projections/credentials/credentials.js';
import { acceptedMessages } from './support/fixtures.js';
import {
  type Sink,
  startSink,
  startTestRelay,
  submit,
  type TestRelay,
  waitFor,
} from './support/relay-harness.js';

const PASS = 'correct horse battery staple';

describe('egress sources and pools', () => {
  let relay: TestRelay;
  let sink: Sink;

  before(async () => {
    sink = await startSink('127.0.0.13', {
      saveDir: mkdtempSync(join(tmpdir(), 'mailtrail-egress-')),
    });
    relay = await startTestRelay({
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      routes: { '*': `[127.0.0.13]:${sink.port}` },
      // Per site and source: each source may hold two connections to the sink.
      delivery: { maxConnectionsPerDomain: 2 },
      egress: {
        sources: {
          mta1: { address: '127.0.0.11', ehlo: 'mta1.relay.test' },
          mta2: { address: '127.0.0.12', ehlo: 'mta2.relay.test' },
        },
        pools: { both: { mta1: 1, mta2: 1 }, second: { mta2: 1 } },
        defaultPool: 'both',
      },
    });
  });
  after(async () => {
    await relay.cleanup();
    await sink.close();
  });

  const seen = (to: string) => sink.transactions.find((t) => t.to.includes(to));

  it('the default pool spreads mail over its sources, each with its own address and EHLO name', async () => {
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => submit(relay.smtpPort, [`spread${i}@example.com`])),
    );
    await waitFor(
      () => Array.from({ length: 30 }, (_, i) => seen(`spread${i}@example.com`)).every(Boolean),
      'all 30',
    );
    const pairs = new Set(
      sink.transactions
        .filter((t) => t.to[0]?.startsWith('spread'))
        .map((t) => `${t.peer} ${t.helo}`),
    );
    assert.deepEqual([...pairs].sort(), [
      '127.0.0.11 mta1.relay.test',
      '127.0.0.12 mta2.relay.test',
    ]);
    for (const source of ['127.0.0.11', '127.0.0.12'])
      assert.ok(
        sink.peakConnections(source) >= 1 && sink.peakConnections(source) <= 2,
        `${sink.peakConnections(source)} connections at once from ${source}, 2 allowed`,
      );
  });

  it('a credential pool, and an X-Mailtrail-Pool header, choose the sources', async () => {
    await createCredential(relay.store, {
      name: 'app',
      domain: 'shop.test',
      password: PASS,
      pool: 'second',
    });
    await waitFor(() => findActiveCredential(relay.readDb, 'app@shop.test'), 'the credential');
    const authenticated = nodemailer.createTransport({
      host: '127.0.0.1',
      port: relay.smtpPort,
      requireTLS: true,
      auth: { user: 'app@shop.test', pass: PASS },
      tls: { rejectUnauthorized: false },
    });
    for (let i = 0; i < 6; i++)
      await authenticated.sendMail({
        from: 'orders@shop.test',
        to: `by-credential${i}@example.com`,
        text: 'x',
      });
    await submit(relay.smtpPort, ['by-header@example.com'], {
      headers: { 'X-Mailtrail-Pool': 'second' },
    });
    const byHeader = await waitFor(
      () => seen('by-header@example.com'),
      'the header-routed message',
    );
    const byCredential = await waitFor(() => {
      const all = Array.from({ length: 6 }, (_, i) => seen(`by-credential${i}@example.com`));
      return all.every(Boolean) && all;
    }, 'the credential-routed messages');
    assert.equal(byHeader.peer, '127.0.0.12');
    // The control header steered the relay and went no further.
    const delivered = readFileSync(byHeader.file as string, 'latin1');
    assert.match(delivered, /^Received: /m);
    assert.doesNotMatch(delivered, /X-Mailtrail-Pool/i);
    assert.deepEqual([...new Set(byCredential.map((t) => t?.peer))], ['127.0.0.12']);
  });

  it('an unknown pool in the header is refused with 550 5.5.4, and nothing is queued', async () => {
    const before = (await acceptedMessages(relay.store)).length;
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: relay.smtpPort,
      ignoreTLS: true,
    });
    await assert.rejects(
      transport.sendMail({
        from: 'app@sender.test',
        to: 'x@example.com',
        text: 'x',
        headers: { 'X-Mailtrail-Pool': 'nope' },
      }),
      /550 5\.5\.4 X-Mailtrail-Pool: no egress pool named nope/,
    );
    assert.equal((await acceptedMessages(relay.store)).length, before);
  });
});
