/** What the benches share: the sink, the relays under test, the load and its timing. */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, exited, freePort, REPO, waitForPort } from '../../test/support/relay-process.js';

export interface LoadOptions {
  readonly messages: number;
  readonly sessions: number;
}

export const log = (line: string) => process.stderr.write(`${line}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

/** Postfix's tools come from Debian's postfix package; install it when missing (root only). */
export const ensurePostfix = () => {
  if (existsSync('/usr/sbin/smtp-source') && existsSync('/usr/sbin/postfix')) return;
  log('installing Debian package postfix (for smtp-source, smtp-sink and the baseline)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'postfix'], { stdio: 'inherit', env });
};

/** smtp-sink counts messages; its counter is only flushed promptly on a terminal, so it gets one. */
export const startSink = async (port: number) => {
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

export interface Target {
  readonly name: string;
  readonly port: number;
  /** mailtrail's config file, for CLI commands against the running relay. */
  readonly configPath?: string;
  readonly pid: () => number | undefined;
  stop(): Promise<void>;
}

/**
 * `mailtrail serve` relaying everything to the sink. With `dkim`, the load's sender domain
 * (sender.test) is onboarded first and signing is on (`signed`) or off.
 */
export const startMailtrail = async (
  sinkPort: number,
  options: {
    readonly dkim?: 'signed' | 'unsigned';
    readonly extraConfig?: readonly string[];
    /** Routes besides `*` (which goes to the sink): domain → `[host]:port`. */
    readonly routes?: Readonly<Record<string, string>>;
  } = {},
): Promise<Target> => {
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
      // Postfix, in the same run, may want port 25.
      'bounces: { listen: null }',
      `routes: ${JSON.stringify({ '*': `[127.0.0.1]:${sinkPort}`, ...options.routes })}`,
      'delivery: { blockLocalAddresses: false }',
      `dkim: { enabled: ${options.dkim === 'signed'} }`,
      ...(options.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  if (options.dkim)
    execFileSync(
      process.execPath,
      [BIN, 'domains', 'add', 'sender.test', '--operator', '--json', '--config', config],
      { cwd: REPO, stdio: 'ignore' },
    );
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of every relay thread, written there at exit.
  const profile = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : [];
  const child: ChildProcess = spawn(
    process.execPath,
    [...profile, BIN, 'serve', '--config', config],
    {
      cwd: REPO,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitForPort(port);
  return {
    name: options.dkim ? `mailtrail ${options.dkim}` : 'mailtrail',
    port,
    configPath: config,
    pid: () => child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** A private Postfix instance: its own config and queue, relaying everything to the sink. */
export const startPostfix = async (sinkPort: number): Promise<Target> => {
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

/** /proc/<pid>/stat after the command name: [state, ppid, …]; times in clock ticks. */
const statFields = (pid: number | string): string[] | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The name is in parentheses and may hold spaces or parentheses itself.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
};
const TICK_MS =
  1000 / (Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100);

/**
 * CPU time so far (user + system, all threads), ms, of a process and its direct children:
 * the live ones, and those it has reaped (cutime, cstime). Postfix's daemons are children
 * of its master, so this is the whole Postfix instance; mailtrail is one process. Null when
 * unreadable.
 */
export const cpuMs = (pid: number | undefined): number | null => {
  const own = pid ? statFields(pid) : null;
  if (!own) return null;
  // utime, stime, cutime, cstime: the 12th to 15th fields after the name.
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(entry);
    if (f && Number(f[1]) === pid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * TICK_MS;
};

/**
 * CPU time so far (user + system), ms, of each thread of a process, summed by thread name:
 * the main thread as `main`, mailtrail's own threads by the names they give themselves
 * (`mt-…`), and every other thread (libuv's pool, V8's helpers) as `other`. Threads that
 * have exited are not counted. Empty when unreadable.
 */
export const threadCpuMs = (pid: number | undefined): Map<string, number> => {
  const byName = new Map<string, number>();
  if (!pid) return byName;
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tasks) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const name = Number(tid) === pid ? 'main' : comm.startsWith('mt-') ? comm : 'other';
    byName.set(name, (byName.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * TICK_MS);
  }
  return byName;
};

/** What each thread used between two `threadCpuMs` readings, ms. */
export const threadCpuSince = (
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): Map<string, number> =>
  new Map([...after].map(([name, ms]) => [name, ms - (before.get(name) ?? 0)]));

export const peakRssMb = (pid: number | undefined): number | null => {
  if (!pid) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Math.round(Number(kb) / 1024) : null;
  } catch {
    return null;
  }
};

export interface RunResult {
  acceptedPerSec: number;
  deliveredPerSec: number;
}

export const inject = async (
  target: Target,
  sink: Awaited<ReturnType<typeof startSink>>,
  o: LoadOptions,
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
