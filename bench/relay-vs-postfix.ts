/**
 * mailtrail against a stock Postfix, same machine, same run, same load:
 * Postfix's smtp-source injects N messages into the relay, which relays them to smtp-sink.
 *
 *   npm run bench -- [--messages 2000] [--sizes 2k,100k] [--sessions 20] [--runs 3] [--json]
 *
 * accepted/s: N over the time smtp-source takes (every message answered 250, durably).
 * delivered/s: N over the time until smtp-sink has received all N (end to end).
 * Medians of --runs runs; the two relays take turns so machine noise hits both alike, and
 * each gets --warmup messages first, unmeasured.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { BIN, exited, freePort, REPO, waitForPort } from '../test/support/relay-process.js';

interface Options {
  messages: number;
  warmup: number;
  sizes: number[];
  sessions: number;
  runs: number;
  json: boolean;
}

const parseSize = (s: string): number => {
  const m = /^(\d+)(k|K)?$/.exec(s.trim());
  if (!m) throw new Error(`--sizes: "${s}" is not a size like 2k or 2048`);
  return Number(m[1]) * (m[2] ? 1024 : 1);
};

const USAGE =
  'usage: npm run bench -- [--messages N] [--warmup N] [--sizes 2k,100k] [--sessions N] [--runs N] [--json]\n';

const parseOptions = (argv: string[]): Options => {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '2000' },
      sizes: { type: 'string', default: '2k,100k' },
      sessions: { type: 'string', default: '20' },
      runs: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const count = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`--${name}: expected a whole number, got ${text}`);
    return n;
  };
  return {
    messages: count('messages', values.messages),
    warmup: count('warmup', values.warmup),
    sizes: values.sizes.split(',').map(parseSize),
    sessions: count('sessions', values.sessions),
    runs: count('runs', values.runs),
    json: values.json,
  };
};

const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

/** Postfix's tools come from Debian's postfix package; install it when missing (root only). */
const ensurePostfix = () => {
  if (existsSync('/usr/sbin/smtp-source') && existsSync('/usr/sbin/postfix')) return;
  log('installing Debian package postfix (for smtp-source, smtp-sink and the baseline)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'postfix'], { stdio: 'inherit', env });
};

/** smtp-sink counts messages; its counter is only flushed promptly on a terminal, so it gets one. */
const startSink = async (port: number) => {
  const out = join(mkdtempSync(join(tmpdir(), 'bench-sink-')), 'counter');
  const child = spawn('script', ['-qfc', `smtp-sink -c -u nobody 127.0.0.1:${port} 1024`, out], {
    stdio: 'ignore',
  });
  await waitForPort(port);
  const count = (): number => {
    const text = readFileSync(out, 'latin1');
    const last = text.lastIndexOf('mesg=');
    return last < 0 ? 0 : Number.parseInt(text.slice(last + 5), 10);
  };
  return { count, stop: () => child.kill('SIGKILL') };
};

interface Target {
  readonly name: string;
  readonly port: number;
  readonly pid: () => number | undefined;
  stop(): Promise<void>;
}

const startMailtrail = async (sinkPort: number): Promise<Target> => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-mailtrail-'));
  const port = await freePort();
  const config = join(dir, 'mailtrail.yaml');
  writeFileSync(
    config,
    [
      `dataDir: ${join(dir, 'data')}`,
      'log: { level: warn }',
      `smtp: { listen: "127.0.0.1:${port}", trustedNetworks: ["127.0.0.1/32"], maxMessageSize: 52428800 }`,
      'http: { listen: "127.0.0.1:0" }',
      `routes: { "*": "[127.0.0.1]:${sinkPort}" }`,
      'delivery: { blockLocalAddresses: false }',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--config', config], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForPort(port);
  return {
    name: 'mailtrail',
    port,
    pid: () => child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** A private Postfix instance: its own config and queue, relaying everything to the sink. */
const startPostfix = async (sinkPort: number): Promise<Target> => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-postfix-'));
  const port = await freePort();
  const etc = join(dir, 'etc');
  const data = join(dir, 'data');
  mkdirSync(etc);
  mkdirSync(join(dir, 'spool'));
  mkdirSync(data);
  execFileSync('chown', ['postfix', data]);
  execFileSync('chmod', ['755', dir]);
  const master = readFileSync('/etc/postfix/master.cf', 'utf8')
    .replace(/^smtp\s+inet\s+.*$/m, `127.0.0.1:${port} inet n - n - - smtpd`)
    // No chroot: the private queue has no copies of /etc files in it.
    .replace(/^(\S+\s+(?:inet|unix|unix-dgram|fifo|pass)\s+\S+\s+\S+\s+)y/gm, '$1n');
  writeFileSync(join(etc, 'master.cf'), master);
  writeFileSync(
    join(etc, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${join(dir, 'spool')}`,
      `data_directory = ${data}`,
      'mail_owner = postfix',
      'setgid_group = postdrop',
      'myhostname = postfix-bench.test',
      'mydestination =',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'mynetworks = 127.0.0.0/8',
      `relayhost = [127.0.0.1]:${sinkPort}`,
      'smtpd_relay_restrictions = permit_mynetworks, reject',
      'smtp_tls_security_level = none',
      'smtpd_tls_security_level = none',
      'alias_maps =',
      'alias_database =',
      'local_recipient_maps =',
      'message_size_limit = 52428800',
      `maillog_file = ${join(dir, 'maillog')}`,
      `maillog_file_prefixes = ${tmpdir()}`,
      '',
    ].join('\n'),
  );
  execFileSync('postfix', ['-c', etc, 'start'], { stdio: 'ignore' });
  await waitForPort(port);
  const masterPid = () => {
    try {
      return Number(readFileSync(join(dir, 'spool', 'pid', 'master.pid'), 'utf8').trim());
    } catch {
      return undefined;
    }
  };
  return {
    name: 'postfix',
    port,
    pid: masterPid,
    stop: async () => {
      spawnSync('postfix', ['-c', etc, 'stop'], { stdio: 'ignore' });
      await sleep(500);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

const peakRssMb = (pid: number | undefined): number | null => {
  if (!pid) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Math.round(Number(kb) / 1024) : null;
  } catch {
    return null;
  }
};

interface RunResult {
  acceptedPerSec: number;
  deliveredPerSec: number;
}

const inject = async (
  target: Target,
  sink: Awaited<ReturnType<typeof startSink>>,
  o: Options & { messages: number },
  size: number,
): Promise<RunResult> => {
  const base = sink.count();
  const started = performance.now();
  const source = spawn(
    'smtp-source',
    [
      '-s',
      String(o.sessions),
      '-m',
      String(o.messages),
      '-l',
      String(size),
      '-f',
      'bench@sender.test',
      '-t',
      'sink@receiver.test',
      `127.0.0.1:${target.port}`,
    ],
    { stdio: 'ignore' },
  );
  const code = await new Promise<number | null>((r) => source.once('exit', r));
  if (code !== 0) throw new Error(`smtp-source against ${target.name} exited ${code}`);
  const acceptedSecs = (performance.now() - started) / 1000;
  const deadline = Date.now() + 600_000;
  while (sink.count() < base + o.messages) {
    if (Date.now() > deadline)
      throw new Error(`${target.name}: the sink got ${sink.count() - base} of ${o.messages}`);
    await sleep(5);
  }
  const deliveredSecs = (performance.now() - started) / 1000;
  return { acceptedPerSec: o.messages / acceptedSecs, deliveredPerSec: o.messages / deliveredSecs };
};

const main = async () => {
  const o = parseOptions(process.argv.slice(2));
  ensurePostfix();
  const sinkPort = await freePort();
  const sink = await startSink(sinkPort);
  const rows: Array<Record<string, number | string | null>> = [];
  try {
    for (const size of o.sizes) {
      const results: Record<string, RunResult[]> = { mailtrail: [], postfix: [] };
      const rss: Record<string, number | null> = { mailtrail: null, postfix: null };
      for (let run = 1; run <= o.runs; run++) {
        for (const start of [startMailtrail, startPostfix]) {
          const target = await start(sinkPort);
          try {
            log(`${target.name}: ${o.messages} × ${size} B, run ${run}/${o.runs}…`);
            // Both relays get the same warm-up (JIT, process pools, caches) before the clock starts.
            if (o.warmup > 0) await inject(target, sink, { ...o, messages: o.warmup }, size);
            const r = await inject(target, sink, o, size);
            results[target.name]?.push(r);
            rss[target.name] = Math.max(rss[target.name] ?? 0, peakRssMb(target.pid()) ?? 0);
            log(
              `  ${r.acceptedPerSec.toFixed(0)} accepted/s, ${r.deliveredPerSec.toFixed(0)} delivered/s`,
            );
          } finally {
            await target.stop();
          }
        }
      }
      const m = (name: string, k: keyof RunResult) =>
        median((results[name] ?? []).map((r) => r[k]));
      rows.push({
        size,
        messages: o.messages,
        mailtrailAccepted: Math.round(m('mailtrail', 'acceptedPerSec')),
        mailtrailDelivered: Math.round(m('mailtrail', 'deliveredPerSec')),
        mailtrailPeakRssMb: rss.mailtrail ?? null,
        postfixAccepted: Math.round(m('postfix', 'acceptedPerSec')),
        postfixDelivered: Math.round(m('postfix', 'deliveredPerSec')),
        ratioDelivered: Number(
          (m('mailtrail', 'deliveredPerSec') / m('postfix', 'deliveredPerSec')).toFixed(2),
        ),
      });
    }
  } finally {
    sink.stop();
  }
  if (o.json) {
    process.stdout.write(
      `${JSON.stringify({ sessions: o.sessions, runs: o.runs, results: rows }, null, 2)}\n`,
    );
    return;
  }
  const table = new Table({
    head: [
      'size',
      'messages',
      'mailtrail accepted/s',
      'mailtrail delivered/s',
      'mailtrail peak RSS',
      'postfix accepted/s',
      'postfix delivered/s',
      'ratio (delivered)',
    ],
  });
  for (const r of rows)
    table.push([
      `${Number(r.size) / 1024} KB`,
      r.messages,
      r.mailtrailAccepted,
      r.mailtrailDelivered,
      `${r.mailtrailPeakRssMb} MB`,
      r.postfixAccepted,
      r.postfixDelivered,
      `${r.ratioDelivered}×`,
    ]);
  process.stdout.write(
    `${table.toString()}\nmedians of ${o.runs} runs after ${o.warmup} warm-up messages each, ${o.sessions} smtp-source sessions, one connection per message\n`,
  );
};

await main();
