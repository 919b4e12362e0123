/**
 * Abuse under load (issue 8): does a well-behaved credential keep its service while one
 * credential hammers the relay past its hourly cap and others brute-force AUTH?
 *
 *   npm run bench:abuse -- [--messages 600] [--sessions 8] [--runs 3] [--json]
 *
 * Each run starts `mailtrail serve` (SQLite, fsynced acceptance, delivering to smtp-sink)
 * and measures the good credential's acceptance latency per message (MAIL FROM sent → 250
 * after the final dot, over STARTTLS + AUTH sessions held open) twice:
 *   idle:   the good credential alone;
 *   attack: the same load while 100 sessions of a capped credential (past its cap from the
 *           start: 451 4.7.1 at every MAIL) and 100 brute-forcing sessions from 20 addresses
 *           (wrong passwords until banned, then reconnecting into 421 at connect) run beside
 *           it: 200 hostile sessions at once.
 * The target: every good message accepted, and its p99 under attack within 2× of idle.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { BIN, freePort, REPO } from '../test/support/relay-process.js';
import { authenticatedSmtp } from '../test/support/smtp-client.js';
import { HOSTILE_SESSIONS, startAttackers } from './support/abuse-attackers.js';
import { log, median, startMailtrail, startSink } from './support/targets.js';

const USAGE =
  'usage: npm run bench:abuse -- [--messages N] [--sessions N] [--runs N] [--json]\n' +
  '  --messages  good messages per phase (600)\n' +
  '  --sessions  good sessions, each sending its share in turn (8)\n' +
  '  --runs      runs; medians are reported (3)\n' +
  '  --ramp      seconds the attackers run before the good load starts (20)\n' +
  '  --json      print the figures as JSON\n';

const GOOD_ADDRESS = '127.0.0.50';
const BODY = `Subject: bench\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(25);

interface Credentials {
  readonly good: { username: string; password: string };
  readonly capped: { username: string; password: string };
}

const addCredential = (config: string, name: string) => {
  const out = execFileSync(
    process.execPath,
    [BIN, 'credentials', 'add', name, '--domain', 'sender.test', '--json', '--config', config],
    { cwd: REPO, encoding: 'utf8' },
  );
  const { username, password } = JSON.parse(out) as { username: string; password: string };
  return { username, password };
};

/** Messages the credential has stored in the rolling hour (`credentials usage --json`). */
const storedBy = (config: string, name: string): number => {
  const out = execFileSync(
    process.execPath,
    [BIN, 'credentials', 'usage', '--json', '--config', config],
    { cwd: REPO, encoding: 'utf8' },
  );
  const rows = JSON.parse(out) as Array<{ name: string; hour: { messages: number } }>;
  return rows.find((r) => r.name === name)?.hour.messages ?? 0;
};

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** One good session: its messages in turn, each timed from MAIL FROM to the final 250. */
const goodSession = async (
  port: number,
  who: Credentials['good'],
  messages: number,
): Promise<{ latencies: number[]; refused: string[] }> => {
  const { client, auth } = await authenticatedSmtp(port, who.username, who.password, GOOD_ADDRESS);
  if (!auth.startsWith('235')) return { latencies: [], refused: [`AUTH: ${auth}`] };
  const latencies: number[] = [];
  const refused: string[] = [];
  for (let i = 0; i < messages; i++) {
    const started = performance.now();
    const replies = [
      await client.command(`MAIL FROM:<${who.username}>\r\n`),
      await client.command(`RCPT TO:<r${i}@receiver.test>\r\n`),
      await client.command('DATA\r\n'),
      await client.command(`From: <${who.username}>\r\n${BODY}.\r\n`),
    ];
    const last = replies.at(-1) ?? '';
    if (last.startsWith('250')) latencies.push(performance.now() - started);
    else refused.push(replies.find((r) => !/^(250|354)/.test(r)) ?? last);
  }
  await client.command('QUIT\r\n');
  return { latencies, refused };
};

const phase = async (
  port: number,
  who: Credentials['good'],
  messages: number,
  sessions: number,
) => {
  const each = Math.ceil(messages / sessions);
  const results = await Promise.all(
    Array.from({ length: sessions }, () => goodSession(port, who, each)),
  );
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    sent: each * sessions,
    accepted: latencies.length,
    refused: results.flatMap((r) => r.refused),
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
};

const main = async () => {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      messages: { type: 'string', default: '600' },
      sessions: { type: 'string', default: '8' },
      runs: { type: 'string', default: '3' },
      ramp: { type: 'string', default: '20' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return void process.stdout.write(USAGE);
  const messages = Number(values.messages);
  const sessions = Number(values.sessions);
  const runs = Number(values.runs);
  const sinkPort = await freePort();
  const sink = await startSink(sinkPort);
  const rows: Array<Record<string, number>> = [];
  let failures = 0;
  try {
    for (let run = 1; run <= runs; run++) {
      const target = await startMailtrail(sinkPort, {
        extraConfig: ['limits: { credentials: { capped: { hour: { messages: 100 } } } }'],
      });
      try {
        const config = target.configPath ?? '';
        const who: Credentials = {
          good: addCredential(config, 'good'),
          capped: addCredential(config, 'capped'),
        };
        // The projection that AUTH reads catches up within a moment of the CLI's append.
        await new Promise((r) => setTimeout(r, 1500));
        log(`run ${run}/${runs}: idle…`);
        const idle = await phase(target.port, who.good, messages, sessions);
        log(`run ${run}/${runs}: under attack…`);
        let stop: () => void = () => {};
        const stopped = new Promise<void>((r) => {
          stop = r;
        });
        const hostile = startAttackers(target.port, who.capped, stopped);
        // Let the attack reach its steady state (every hostile session past AUTH or banned)
        // before the good load starts.
        await new Promise((r) => setTimeout(r, Number(values.ramp) * 1000));
        const underAttack = await phase(target.port, who.good, messages, sessions);
        stop();
        const counts = await hostile.done;
        const cappedStored = storedBy(config, 'capped');
        if (cappedStored > 100) {
          log(`  the capped credential got ${cappedStored} messages stored, over its cap of 100`);
          failures++;
        }
        for (const p of [idle, underAttack]) {
          failures += p.sent - p.accepted;
          for (const r of p.refused.slice(0, 5)) log(`  good message refused: ${r}`);
        }
        rows.push({
          run,
          idleP50: idle.p50,
          idleP99: idle.p99,
          attackP50: underAttack.p50,
          attackP99: underAttack.p99,
          ratioP99: underAttack.p99 / idle.p99,
          goodSent: idle.sent + underAttack.sent,
          goodAccepted: idle.accepted + underAttack.accepted,
          ...counts,
          cappedStored,
        });
        log(
          `  p99 idle ${idle.p99.toFixed(1)} ms, under attack ${underAttack.p99.toFixed(1)} ms; ` +
            `capped 451×${counts.capped451}, AUTH 535×${counts.auth535}, ` +
            `421 at connect ×${counts.connect421}`,
        );
      } finally {
        await target.stop();
      }
    }
  } finally {
    sink.stop();
  }
  const med = (key: string) => median(rows.map((r) => r[key] ?? Number.NaN));
  const summary = {
    runs: rows.length,
    messagesPerPhase: messages,
    goodSessions: sessions,
    hostileSessions: HOSTILE_SESSIONS,
    idleP50Ms: med('idleP50'),
    idleP99Ms: med('idleP99'),
    attackP50Ms: med('attackP50'),
    attackP99Ms: med('attackP99'),
    ratioP99: med('ratioP99'),
    goodRefused: failures,
    capped451: med('capped451'),
    capped421: med('capped421'),
    cappedStored: med('cappedStored'),
    auth535: med('auth535'),
    connect421: med('connect421'),
    auth454: med('auth454'),
    perRun: rows,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    const table = new Table({ head: ['median of runs', 'idle', 'under attack', 'ratio'] });
    table.push(
      ['good p50 (ms)', summary.idleP50Ms.toFixed(1), summary.attackP50Ms.toFixed(1), ''],
      [
        'good p99 (ms)',
        summary.idleP99Ms.toFixed(1),
        summary.attackP99Ms.toFixed(1),
        `${summary.ratioP99.toFixed(2)}× (target ≤ 2×)`,
      ],
      ['good messages refused', '', String(failures), ''],
      [
        'capped: 451 4.7.1 / cut off (421) / stored (cap 100)',
        '',
        `${summary.capped451} / ${summary.capped421} / ${summary.cappedStored}`,
        '',
      ],
      [
        'brute force: 535 / 421 at connect / 454',
        '',
        `${summary.auth535} / ${summary.connect421} / ${summary.auth454}`,
        '',
      ],
    );
    process.stdout.write(`${table.toString()}\n`);
  }
  if (failures > 0) process.exitCode = 1;
};

await main();
