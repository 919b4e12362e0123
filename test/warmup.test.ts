/**
 * IP warm-up end to end: a cold source's daily cap per site holds; past it, traffic
 * overflows to the pool's warm source, or waits when the pool has no other; the count is
 * folded from the log, so a restart does not reset it; `shaping explain` shows each
 * source's standing. Sinks on loopback addresses play the sites.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { type RunningRelay, startRelay } from '../src/apps/relay/relay.js';
import { type Sink, startSink, submit, type TestRelay, waitFor } from './support/relay-harness.js';
import { BIN, REPO } from './support/relay-process.js';
import { eventsOf, startShapedRelay } from './support/shaped-relay.js';

const COLD = '127.0.0.26';
const WARM = '127.0.0.27';
const day = (offset: number) =>
  new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

describe('IP warm-up', () => {
  let first: TestRelay;
  let relay: RunningRelay;
  let spill: Sink; // 127.0.0.28: the cold source overflows to the warm one
  let held: Sink; // 127.0.0.29: only the cold source may send, so mail waits

  before(async () => {
    // A day's count starts at UTC midnight, and the suite takes some seconds: not across it.
    const toMidnight = 86_400_000 - (Date.now() % 86_400_000);
    if (toMidnight < 60_000) await new Promise((r) => setTimeout(r, toMidnight + 1000));
    spill = await startSink('127.0.0.28');
    held = await startSink('127.0.0.29');
    first = await startShapedRelay(
      [
        'sources:',
        '  cold:',
        '    warmup:',
        // Started yesterday: today is day 2 of [2, 5, 8].
        `      start: ${day(-1)}`,
        '      daily:',
        '        default: [2, 5, 8]',
      ],
      {
        'spill.test': { host: '127.0.0.28', sink: spill },
        'held.test': { host: '127.0.0.29', sink: held },
      },
      {
        egress: {
          sources: {
            cold: { address: COLD, ehlo: 'cold.relay.test' },
            warm: { address: WARM, ehlo: 'warm.relay.test' },
          },
          pools: { mixed: { cold: 3, warm: 1 }, coldonly: { cold: 1 } },
          defaultPool: 'mixed',
        },
      },
    );
    relay = first;
  });
  after(async () => {
    await relay.stop();
    rmSync(first.dir, { recursive: true, force: true });
    await spill.close();
    await held.close();
  });

  it('past its cap for the day, a cold source overflows to the warm one', async () => {
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => submit(first.smtpPort, [`u${i}@spill.test`])),
    );
    await waitFor(() => spill.transactions.length === 30, 'all 30 delivered');
    const from = (ip: string) => spill.transactions.filter((t) => t.peer === ip).length;
    assert.equal(from(COLD), 5, 'day 2 cap of the cold source');
    assert.equal(from(WARM), 25);
  });

  it('with no other source it waits, and a restart does not reset the count', async () => {
    const pool = { headers: { 'X-Mailtrail-Pool': 'coldonly' } };
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => submit(first.smtpPort, [`h${i}@held.test`], pool)),
    );
    await waitFor(() => held.transactions.length === 5, 'five delivered');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(held.transactions.length, 5, 'the other three wait');
    assert.ok(held.transactions.every((t) => t.peer === COLD));
    const attempted = (await eventsOf(first, 'MessageDelivered', 'DeliveryDeferred')).filter((e) =>
      (e.data as { recipient: string }).recipient.endsWith('@held.test'),
    );
    assert.equal(attempted.length, 5, 'waiting is not an attempt: no deferral recorded');

    await first.stop();
    relay = await startRelay(first.config, pino({ level: 'silent' }));
    await submit(relay.smtpPort, ['after-restart@held.test'], pool);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(held.transactions.length, 5, 'still capped after the restart');

    const config = join(first.dir, 'explain.yaml');
    writeFileSync(
      config,
      [
        `dataDir: ${first.config.dataDir}`,
        `shaping: { files: [${JSON.stringify(first.config.shaping.files[0])}] }`,
        `routes: { held.test: "[127.0.0.29]:${held.port}" }`,
        `egress: ${JSON.stringify(first.config.egress)}`,
        '',
      ].join('\n'),
    );
    // Asynchronously: the relay the CLI reads beside runs in this process.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        BIN,
        'shaping',
        'explain',
        'held.test',
        '--mx',
        `127.0.0.29:${held.port}`,
        '--json',
        '--config',
        config,
      ],
      { cwd: REPO, encoding: 'utf8' },
    );
    const explained = JSON.parse(stdout) as {
      warmup: Array<{
        source: string;
        day: number;
        days: number;
        cap: number;
        sentToday: number;
        left: number;
      }>;
    };
    assert.deepEqual(
      explained.warmup.map(({ source, day, days, cap, sentToday, left }) => ({
        source,
        day,
        days,
        cap,
        sentToday,
        left,
      })),
      [{ source: 'cold', day: 2, days: 3, cap: 5, sentToday: 5, left: 0 }],
    );
    const table = await promisify(execFile)(
      process.execPath,
      [
        BIN,
        'shaping',
        'explain',
        'held.test',
        '--mx',
        `127.0.0.29:${held.port}`,
        '--config',
        config,
      ],
      { cwd: REPO, encoding: 'utf8' },
    );
    assert.match(
      table.stdout.replace(/\x1b\[[0-9;]*m/g, ''),
      /cold\s+│ 2 of 3\s+│ 5\s+│ 5\s+│ 0\s+│ default \(.*shaping\.yaml:3\)/,
    );
  });
});
