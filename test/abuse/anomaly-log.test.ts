/**
 * What an operator sees: `mailtrail serve` as its own process logs each credential anomaly
 * on stdout (the delivery thread's log), as one JSON line with the figures.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { type Sink, startSink, waitFor } from '../support/relay-harness.js';
import { BIN, exited, freePort, REPO, spawnRelay, waitForPort } from '../support/relay-process.js';

describe('anomaly log line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-anomaly-log-'));
  const config = join(dir, 'mailtrail.yaml');
  const logLines: string[] = [];
  let sink: Sink;
  let relay: ReturnType<typeof spawnRelay>;
  let smtpPort: number;
  let credential: { username: string; password: string };

  before(async () => {
    sink = await startSink('127.0.0.73');
    smtpPort = await freePort();
    writeFileSync(
      config,
      [
        `dataDir: ${join(dir, 'data')}`,
        'log: { level: warn }',
        `smtp: { listen: "127.0.0.1:${smtpPort}" }`,
        'http: { listen: "127.0.0.1:0" }',
        'bounces: { listen: null }',
        `routes: { "*": "[127.0.0.73]:${sink.port}" }`,
        'delivery: { blockLocalAddresses: false }',
        'anomalies: { interval: 1s, minHistory: 0s, minOutcomes: 2, bounceRate: 0.5 }',
        '',
      ].join('\n'),
    );
    credential = JSON.parse(
      execFileSync(
        process.execPath,
        [
          BIN,
          'credentials',
          'add',
          'bouncy',
          '--domain',
          'bouncy.test',
          '--json',
          '--config',
          config,
        ],
        { cwd: REPO, encoding: 'utf8' },
      ),
    );
    relay = spawnRelay(config, logLines);
    await waitForPort(smtpPort);
  });
  after(async () => {
    relay.kill('SIGTERM');
    await exited(relay);
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a bounce-rate anomaly is one warn line naming the credential, the kind and the figures', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: smtpPort,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: credential.username, pass: credential.password },
    });
    await transport.sendMail({
      from: credential.username,
      to: ['permfail1@example.com', 'permfail2@example.com'],
      subject: 'a',
      text: 'b',
    });
    transport.close();
    const line = await waitFor(
      () =>
        logLines
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => String(l.msg).startsWith('credential anomaly')),
      'the anomaly log line',
    );
    assert.equal(line.level, 40);
    assert.equal(line.thread, 'delivery');
    assert.equal(line.credential, 'bouncy');
    assert.equal(line.kind, 'bounce-rate');
    assert.deepEqual(line.figures, { bounced: 2, outcomes: 2, rate: 1, baselineRate: 0 });
    assert.equal(
      line.msg,
      'credential anomaly: 100% of its recipients bounced in the last hour (2 of 2); usually 0%',
    );
  });
});
