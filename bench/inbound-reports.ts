/**
 * How fast bounce and complaint reports are taken in.
 *
 *   npm run bench:inbound -- [--reports 2000] [--connections 8] [--json]
 *
 * 1. The parser alone: reports/s over every fixture in test/fixtures/inbound (DSNs from
 *    Postfix, Gmail, Exchange, Exim; qmail and Exim bounces; ARF reports).
 * 2. End to end: the relay sends --reports messages from an onboarded domain to a sink (each
 *    leaves with its VERP return path), then as many Postfix-style DSNs come back over SMTP
 *    to the bounce listener on --connections connections. Reported: reports/s from the first
 *    RCPT to the last 250 (each 250 follows the durable append of the out-of-band bounce),
 *    and a check that every report landed.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import nodemailer from 'nodemailer';
import { pino } from 'pino';
import { createFileKeyStore } from '../src/adapters/dkim-keys/file-key-store.js';
import { parseConfig } from '../src/apps/config/load-config.js';
import { addSendingDomain } from '../src/apps/domains/sending-domains.js';
import { dataPaths } from '../src/apps/relay/data-paths.js';
import { startRelay } from '../src/apps/relay/relay.js';
import { createSmartSink } from '../src/apps/sink/smart-sink.js';
import { parseInboundReport } from '../src/domain/inbound-report/parse-report.js';
import { isSendingDomain } from '../src/projections/sending-domains/sending-domains.js';
import { freePort } from '../test/support/relay-process.js';
import { log, sleep } from './support/targets.js';

const { values } = parseArgs({
  options: {
    reports: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '8' },
    json: { type: 'boolean', default: false },
  },
});
const total = Number(values.reports);
const connections = Number(values.connections);
const FIXTURES = new URL('../test/fixtures/inbound/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');

const parserRate = (): number => {
  const texts = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => fixture(f).replace(/\n/g, '\r\n'));
  const n = 20_000;
  const start = performance.now();
  for (let i = 0; i < n; i++) parseInboundReport(texts[i % texts.length] as string);
  return n / ((performance.now() - start) / 1000);
};

const main = async () => {
  const parsed = parserRate();
  log(`parser: ${Math.round(parsed)} reports/s`);

  const sinkSeen: string[] = [];
  const sink = createSmartSink({ onTransaction: (t) => sinkSeen.push(t.from) });
  const sinkPort = await sink.listen(await freePort(), '127.0.0.34');
  const dir = mkdtempSync(join(tmpdir(), 'bench-inbound-'));
  const config = parseConfig({
    dataDir: join(dir, 'data'),
    hostname: 'relay.test',
    log: { level: 'silent' },
    smtp: { listen: '127.0.0.1:0', trustedNetworks: ['127.0.0.1/32'] },
    http: { listen: '127.0.0.1:0' },
    bounces: { listen: '127.0.0.1:0' },
    routes: { '*': `[127.0.0.34]:${sinkPort}` },
    delivery: { blockLocalAddresses: false },
  });
  const relay = await startRelay(config, pino({ level: 'silent' }));
  await addSendingDomain(
    {
      store: relay.store,
      readDb: relay.readDb,
      keyStore: createFileKeyStore(dataPaths(config).keys),
      settings: { egressAddresses: [], bounceHost: 'relay.test', returnPathPrefix: 'bounces' },
      now: Date.now,
    },
    { domain: 'sender.test', credential: null },
  );
  while (!isSendingDomain(relay.readDb, 'sender.test')) await sleep(20);

  log(`sending ${total} messages to collect their return paths…`);
  const out = nodemailer.createTransport({
    host: '127.0.0.1',
    port: relay.smtpPort,
    pool: true,
    maxConnections: 8,
    ignoreTLS: true,
  });
  for (let i = 0; i < total; i += 200)
    await Promise.all(
      Array.from({ length: Math.min(200, total - i) }, (_, j) =>
        out.sendMail({
          envelope: { from: 'app@sender.test', to: [`user${i + j}@example.com`] },
          raw: `From: app@sender.test\r\nTo: user${i + j}@example.com\r\nSubject: hi\r\n\r\nhello\r\n`,
        }),
      ),
    );
  out.close();
  while (sinkSeen.length < total) await sleep(50);
  const tokens = sinkSeen
    .filter((f) => f.startsWith('b+'))
    .map((f) => (f.split('@')[0] as string).slice(2));

  log(`returning ${tokens.length} DSNs on ${connections} connections…`);
  const template = fixture('dsn-postfix.eml').replace(/\n/g, '\r\n');
  const back = nodemailer.createTransport({
    host: '127.0.0.1',
    port: relay.bouncePort as number,
    pool: true,
    maxConnections: connections,
    maxMessages: Number.POSITIVE_INFINITY,
    ignoreTLS: true,
  });
  const start = performance.now();
  for (let i = 0; i < tokens.length; i += 500)
    await Promise.all(
      tokens.slice(i, i + 500).map((token) =>
        back.sendMail({
          envelope: { from: '', to: [`b+${token}@bounces.sender.test`] },
          raw: template
            .replaceAll('{{TOKEN}}', token)
            .replaceAll('{{MESSAGE_ID}}', (token.split('.')[0] as string).toUpperCase()),
        }),
      ),
    );
  const seconds = (performance.now() - start) / 1000;
  back.close();
  let landed = 0;
  for await (const e of relay.store.readAll({ filter: { eventTypes: ['MessageBounced'] } }))
    if ((e.data as { phase: string }).phase === 'out-of-band') landed++;
  await relay.stop();
  await sink.close();

  const result = {
    parserReportsPerSecond: Math.round(parsed),
    reports: tokens.length,
    connections,
    endToEndReportsPerSecond: Math.round(tokens.length / seconds),
    outOfBandBouncesRecorded: landed,
  };
  if (values.json) return void process.stdout.write(`${JSON.stringify(result)}\n`);
  const table = new Table({
    head: [
      'parser reports/s',
      'reports',
      'connections',
      'end-to-end reports/s',
      'bounces recorded',
    ],
  });
  table.push([
    result.parserReportsPerSecond,
    result.reports,
    connections,
    result.endToEndReportsPerSecond,
    landed,
  ]);
  process.stdout.write(`${table.toString()}\n`);
  if (landed !== tokens.length) process.exitCode = 1;
};

await main();
