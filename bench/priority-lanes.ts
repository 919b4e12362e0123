/**
 * Priority lanes under a bulk backlog.
 *
 *   npm run bench:lanes -- [--bulk 50000] [--rate 100] [--transactional 300] [--json]
 *
 * mailtrail relays everything to one site (a smart sink on loopback) throttled to --rate
 * messages/s. First --bulk messages marked `Precedence: bulk` are queued; then, while that
 * backlog drains, transactional messages are submitted at 10/s to the same site, and the
 * time from each submission to the site receiving it is measured: median, p95, p99, max.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import { createSmartSink } from '../src/apps/sink/smart-sink.js';
import { freePort } from '../test/support/relay-process.js';
import { createSmtpInjector } from './support/smtp-injector.js';
import { log, sleep, startMailtrail } from './support/targets.js';

const { values } = parseArgs({
  options: {
    bulk: { type: 'string', default: '50000' },
    rate: { type: 'string', default: '100' },
    transactional: { type: 'string', default: '300' },
    json: { type: 'boolean', default: false },
  },
});
const bulk = Number(values.bulk);
const rate = Number(values.rate);
const transactionalCount = Number(values.transactional);

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;

const main = async () => {
  const received = new Map<string, number>();
  const sink = createSmartSink({
    onTransaction: (t) => {
      for (const to of t.to) received.set(to, Date.now());
    },
  });
  const sinkPort = await sink.listen(await freePort(), '127.0.0.1');
  const rules = join(mkdtempSync(join(tmpdir(), 'bench-lanes-')), 'shaping.yaml');
  writeFileSync(rules, `default:\n  messageRate: ${rate}/s\n  maxConnections: 10\n`);
  const relay = await startMailtrail(sinkPort, { extraConfig: [`shaping: { files: [${rules}] }`] });
  const injector = createSmtpInjector(relay.port);
  try {
    log(`queueing ${bulk} bulk messages for one site throttled to ${rate}/s…`);
    const bar = process.stderr.isTTY ? new SingleBar({}) : null;
    bar?.start(bulk, 0);
    const started = Date.now();
    await injector.send(
      bulk,
      (i) => ({
        from: 'news@sender.test',
        to: `reader${i}@bulk.test`,
        subject: 'news',
        text: 'the news',
        headers: { Precedence: 'bulk' },
      }),
      () => bar?.increment(),
    );
    bar?.stop();
    log(
      `queued in ${((Date.now() - started) / 1000).toFixed(0)} s; ${received.size} delivered so far`,
    );

    log(`${transactionalCount} transactional messages at 10/s to the same site…`);
    const sentAt = new Map<string, number>();
    for (let i = 0; i < transactionalCount; i++) {
      const to = `user${i}@txn.test`;
      sentAt.set(to, Date.now());
      injector.sendOne({
        from: 'app@sender.test',
        to,
        subject: 'your code',
        text: '123456',
      });
      await sleep(100);
    }
    const deadline = Date.now() + 60_000;
    while ([...sentAt.keys()].some((to) => !received.has(to)) && Date.now() < deadline)
      await sleep(50);
    const latencies = [...sentAt]
      .map(([to, at]) => (received.get(to) ?? Number.POSITIVE_INFINITY) - at)
      .sort((a, b) => a - b);
    const bulkDelivered = [...received.keys()].filter((to) => to.endsWith('@bulk.test')).length;
    const result = {
      bulk,
      rate,
      bulkDeliveredMeanwhile: bulkDelivered,
      transactional: transactionalCount,
      latencyMs: {
        p50: percentile(latencies, 50),
        p95: percentile(latencies, 95),
        p99: percentile(latencies, 99),
        max: latencies[latencies.length - 1],
      },
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const table = new Table({
        head: ['bulk queued', 'site rate', 'transactional', 'p50', 'p95', 'p99', 'max'],
      });
      table.push([
        bulk,
        `${rate}/s`,
        `${transactionalCount} at 10/s`,
        ...(['p50', 'p95', 'p99', 'max'] as const).map((k) => `${result.latencyMs[k]} ms`),
      ]);
      process.stdout.write(
        `${table.toString()}\nsubmission → received by the site; ${bulkDelivered} bulk messages delivered meanwhile\n`,
      );
    }
  } finally {
    injector.close();
    await relay.stop();
    await sink.close();
  }
};

await main();
