/**
 * Ten receiving sites, each with its own limits.
 *
 *   npm run bench:sites -- [--messages 6000] [--json]
 *
 * Ten smart sinks on 127.0.0.21–30 play ten ISPs; a shaping file gives each its own
 * connection cap and message rate (site i: i+1 connections, 40·(i+1)/s); --messages are
 * spread evenly over the ten domains and injected over SMTP. Reported: overall delivered/s,
 * and per site the rate it saw against its limit and the most connections it saw at once.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { createSmartSink } from '../src/apps/sink/smart-sink.js';
import { freePort } from '../test/support/relay-process.js';
import { createSmtpInjector } from './support/smtp-injector.js';
import { log, sleep, startMailtrail } from './support/targets.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '6000' },
    json: { type: 'boolean', default: false },
  },
});
const total = Number(values.messages);
const SITES = Array.from({ length: 10 }, (_, i) => ({
  domain: `isp${i + 1}.test`,
  host: `127.0.0.${21 + i}`,
  maxConnections: i + 1,
  rate: 40 * (i + 1),
}));

const main = async () => {
  const seen = SITES.map(() => [] as number[]);
  const sinks = await Promise.all(
    SITES.map(async (site, i) => {
      const sink = createSmartSink({ onTransaction: () => seen[i]?.push(Date.now()) });
      const port = await sink.listen(await freePort(), site.host);
      return { sink, port };
    }),
  );
  const dir = mkdtempSync(join(tmpdir(), 'bench-sites-'));
  const rules = join(dir, 'shaping.yaml');
  writeFileSync(
    rules,
    [
      'domains:',
      ...SITES.flatMap((s) => [
        `  ${s.domain}:`,
        `    maxConnections: ${s.maxConnections}`,
        `    messageRate: ${s.rate}/s`,
      ]),
      '',
    ].join('\n'),
  );
  const routes = Object.fromEntries(
    SITES.map((s, i) => [s.domain, `[${s.host}]:${sinks[i]?.port}`]),
  );
  // Nothing goes to `*` here: every message is for one of the ten sites.
  const relay = await startMailtrail(await freePort(), {
    extraConfig: [`shaping: { files: [${rules}] }`],
    routes,
  });
  const injector = createSmtpInjector(relay.port);
  try {
    log(`${total} messages over ${SITES.length} sites…`);
    const started = Date.now();
    await injector.send(total, (i) => ({
      from: 'app@sender.test',
      to: `user${i}@${(SITES[i % SITES.length] as (typeof SITES)[number]).domain}`,
      subject: 's',
      text: 'x',
    }));
    const acceptedSecs = (Date.now() - started) / 1000;
    const deadline = Date.now() + 600_000;
    while (seen.reduce((n, s) => n + s.length, 0) < total && Date.now() < deadline) await sleep(20);
    const deliveredSecs = (Date.now() - started) / 1000;
    const rows = SITES.map((site, i) => {
      const times = (seen[i] ?? []).sort((a, b) => a - b);
      const span = ((times[times.length - 1] ?? 0) - (times[0] ?? 0)) / 1000;
      return {
        site: site.domain,
        limit: `${site.maxConnections} conn, ${site.rate}/s`,
        delivered: times.length,
        ratePerSec: Math.round((times.length - 1) / Math.max(span, 0.001)),
        peakConnections: sinks[i]?.sink.peakConnections() ?? 0,
      };
    });
    const result = {
      messages: total,
      acceptedPerSec: Math.round(total / acceptedSecs),
      deliveredPerSec: Math.round(total / deliveredSecs),
      sites: rows,
    };
    if (values.json) return void process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    const table = new Table({
      head: ['site', 'limit', 'delivered', 'rate seen /s', 'most connections seen'],
    });
    for (const r of rows)
      table.push([r.site, r.limit, r.delivered, r.ratePerSec, r.peakConnections]);
    process.stdout.write(
      `${table.toString()}\n${total} messages: ${result.acceptedPerSec} accepted/s, ${result.deliveredPerSec} delivered/s end to end\n`,
    );
  } finally {
    injector.close();
    await relay.stop();
    await Promise.all(sinks.map((s) => s.sink.close()));
  }
};

await main();
