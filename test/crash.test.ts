/**
 * Nothing accepted is lost: the relay is killed with SIGKILL twice, once in the middle of a
 * 2,000-message injection and once while it is catching up after the restart. Every
 * message it answered 250 for must reach the receiving MX at least once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { type Sink, startSink, waitFor } from './support/relay-harness.js';
import { exited, freePort, spawnRelay, waitForPort } from './support/relay-process.js';

const TOTAL = 2000;

describe('crash safety: kill -9 during injection and during recovery', () => {
  let dir: string;
  let sink: Sink;
  let configPath: string;
  let smtpPort: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailtrail-crash-'));
    sink = await startSink('127.0.0.2');
    smtpPort = await freePort();
    configPath = join(dir, 'mailtrail.yaml');
    writeFileSync(
      configPath,
      [
        `dataDir: ${join(dir, 'data')}`,
        'hostname: crash.relay.test',
        'log: { level: warn }',
        `smtp: { listen: "127.0.0.1:${smtpPort}", trustedNetworks: ["127.0.0.1/32"] }`,
        'http: { listen: "127.0.0.1:0" }',
        'bounces: { listen: null }',
        `routes: { "*": "[127.0.0.2]:${sink.port}" }`,
        'delivery: { blockLocalAddresses: false }',
        'queue: { retry: [1s] }',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every message answered 250 is delivered after the restarts', async () => {
    let relay = spawnRelay(configPath);
    await waitForPort(smtpPort);
    const acknowledged = new Set<string>();
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: smtpPort,
      ignoreTLS: true,
      pool: true,
      maxConnections: 8,
      maxMessages: Number.POSITIVE_INFINITY,
    });
    const injection = Promise.all(
      Array.from({ length: TOTAL }, async (_, i) => {
        const rcpt = `r${i}@crash.test`;
        try {
          const info = await transport.sendMail({
            from: 'app@sender.test',
            to: rcpt,
            subject: `crash ${i}`,
            text: 'x'.repeat(2000),
          });
          if (/^250 /.test(info.response)) acknowledged.add(rcpt);
        } catch {
          // Refused or cut off by the kill: never acknowledged, so not ours to deliver.
        }
      }),
    );
    await waitFor(
      () => acknowledged.size >= TOTAL / 3,
      'a third of the injection acknowledged',
      60_000,
    );
    relay.kill('SIGKILL');
    await exited(relay);
    await injection;
    transport.close();
    const ackedAtKill = acknowledged.size;
    assert.ok(ackedAtKill < TOTAL, 'the kill landed during the injection');

    // Restart, and kill again while it is still catching up.
    relay = spawnRelay(configPath);
    await waitForPort(smtpPort);
    await new Promise((r) => setTimeout(r, 150));
    relay.kill('SIGKILL');
    await exited(relay);

    relay = spawnRelay(configPath);
    try {
      await waitFor(
        () => {
          const delivered = new Set(sink.transactions.flatMap((t) => t.to));
          return [...acknowledged].every((r) => delivered.has(r));
        },
        'every acknowledged message at the sink',
        120_000,
      );
    } finally {
      relay.kill('SIGTERM');
      await exited(relay);
    }
    const deliveries = sink.transactions.flatMap((t) => t.to);
    const duplicates = deliveries.length - new Set(deliveries).size;
    // At most the messages in flight at each kill can arrive twice (remote 250, then kill
    // before our append): bounded by the delivery concurrency, far below the total.
    assert.ok(duplicates <= 2 * 500, `duplicates: ${duplicates}`);
    process.stderr.write(
      `crash test: ${ackedAtKill} acknowledged, ${deliveries.length} deliveries, ${duplicates} duplicates\n`,
    );
  });
});
