/**
 * Per-site shaping end to end: smart sinks on their own loopback addresses play receiving
 * sites; a shaping file gives one of them tight limits; the sinks see what was sent.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type Sink,
  startSink,
  startTestRelay,
  submit,
  type TestRelay,
  waitFor,
} from './support/relay-harness.js';

describe('per-site shaping', () => {
  let relay: TestRelay;
  let rated: Sink; // 127.0.0.6: at most 2 connections, 20 messages/s, 5 messages a connection
  let free: Sink; // 127.0.0.7: no limits beyond the config's

  before(async () => {
    rated = await startSink('127.0.0.6');
    free = await startSink('127.0.0.7');
    const dir = join('/tmp', `mailtrail-shaping-${process.pid}`);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    const rules = join(dir, 'shaping.yaml');
    writeFileSync(
      rules,
      [
        'domains:',
        '  rated.test:',
        '    maxConnections: 2',
        '    maxMessagesPerConnection: 5',
        '    messageRate: 20/s',
        '',
      ].join('\n'),
    );
    relay = await startTestRelay({
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      routes: {
        'rated.test': `[127.0.0.6]:${rated.port}`,
        'free.test': `[127.0.0.7]:${free.port}`,
      },
      shaping: { files: [rules] },
    });
  });
  after(async () => {
    await relay.cleanup();
    await rated.close();
    await free.close();
  });

  it('holds a site to its connections, messages per connection and message rate, and other sites do not wait', async () => {
    const n = 100;
    await Promise.all(
      Array.from({ length: n }, (_, i) => submit(relay.smtpPort, [`user${i}@rated.test`])),
    );
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => submit(relay.smtpPort, [`user${i}@free.test`])),
    );
    await waitFor(() => free.transactions.length === 30, 'the free site', 10_000);
    const ratedWhenFreeDone = rated.transactions.length;
    await waitFor(() => rated.transactions.length === n, 'the rated site', 30_000);

    assert.ok(
      ratedWhenFreeDone < n,
      `the free site finished first (rated had ${ratedWhenFreeDone})`,
    );
    assert.ok(rated.peakConnections() <= 2, `${rated.peakConnections()} connections at once`);
    const perSession = new Map<string, number>();
    for (const t of rated.transactions)
      perSession.set(t.session, (perSession.get(t.session) ?? 0) + 1);
    assert.ok(Math.max(...perSession.values()) <= 5, 'at most 5 messages a connection');

    const times = rated.transactions.map((t) => Date.parse(t.at)).sort((a, b) => a - b);
    const rate = ((n - 1) * 1000) / ((times[n - 1] as number) - (times[0] as number));
    assert.ok(Math.abs(rate - 20) / 20 <= 0.1, `${rate.toFixed(1)} messages/s, 20/s configured`);
    let worst = 0;
    for (let i = 0, j = 0; i < n; i++) {
      while ((times[i] as number) - (times[j] as number) >= 1000) j++;
      worst = Math.max(worst, i - j + 1);
    }
    assert.ok(worst <= 21, `${worst} messages within one second`);
  });
});
