/**
 * mailtrail against a stock Postfix, same machine, same run, same load:
 * Postfix's smtp-source injects N messages into the relay, which relays them to smtp-sink.
 *
 *   npm run bench -- [--messages 2000] [--sizes 2k,100k] [--sessions 20] [--runs 3] [--json]
 *
 * accepted/s: N over the time smtp-source takes (every message answered 250, durably).
 * delivered/s: N over the time until smtp-sink has received all N (end to end).
 * Medians of --runs runs; the two relays take turns so machine noise hits both alike, and
 * each gets --warmup messages first, unmeasured (default 8000: after 1,000 messages V8 is
 * still compiling hot functions, about 0.25 ms of CPU a message on its helper threads; after
 * 8,000 it has mostly settled, as a relay that has been running a while has).
 */
import Table from 'cli-table3';
import { freePort } from '../test/support/relay-process.js';
import { parseBenchOptions } from './support/options.js';
import {
  cpuMs,
  ensurePostfix,
  inject,
  log,
  median,
  peakRssMb,
  type RunResult,
  startMailtrail,
  startPostfix,
  startSink,
  threadCpuMs,
  threadCpuSince,
} from './support/targets.js';

const USAGE =
  'usage: npm run bench -- [--messages N] [--warmup N] [--sizes 2k,100k] [--sessions N] [--runs N] [--json]\n';

const cpuMedian = (xs: readonly number[] | undefined): number | null =>
  xs && xs.length > 0 ? Number(median([...xs]).toFixed(2)) : null;

/** How many times less CPU a message takes through mailtrail than through Postfix. */
const cpuRatio = (cpu: Record<string, number[]>): number | null => {
  const ours = cpuMedian(cpu.mailtrail);
  const theirs = cpuMedian(cpu.postfix);
  return ours && theirs ? Number((theirs / ours).toFixed(2)) : null;
};

interface Row {
  readonly size: number;
  readonly messages: number;
  readonly mailtrailAccepted: number;
  readonly mailtrailDelivered: number;
  readonly mailtrailPeakRssMb: number | null;
  readonly mailtrailCpuMsPerMessage: number | null;
  /** main (SMTP), mt-log-writer, mt-delivery, mt-webhooks, other (libuv's pool, V8's). */
  readonly mailtrailCpuMsPerMessageByThread: Readonly<Record<string, number | null>>;
  readonly postfixAccepted: number;
  readonly postfixDelivered: number;
  readonly ratioDelivered: number;
  readonly postfixCpuMsPerMessage: number | null;
  readonly ratioCpu: number | null;
}

const main = async () => {
  const o = parseBenchOptions(process.argv.slice(2), USAGE);
  ensurePostfix();
  const sinkPort = await freePort();
  const sink = await startSink(sinkPort);
  const rows: Row[] = [];
  try {
    for (const size of o.sizes) {
      const results: Record<string, RunResult[]> = { mailtrail: [], postfix: [] };
      const rss: Record<string, number | null> = { mailtrail: null, postfix: null };
      // CPU per message: mailtrail's process (all threads), Postfix's master and its daemons.
      // Steadier than throughput on a machine whose speed changes from day to day.
      const cpuPerMessage: Record<string, number[]> = { mailtrail: [], postfix: [] };
      // mailtrail's by thread (main: SMTP; mt-log-writer, mt-delivery, mt-webhooks; other).
      const threadCpu: Array<Map<string, number>> = [];
      for (let run = 1; run <= o.runs; run++) {
        for (const start of [startMailtrail, startPostfix]) {
          const target = await start(sinkPort);
          try {
            log(`${target.name}: ${o.messages} × ${size} B, run ${run}/${o.runs}…`);
            // Both relays get the same warm-up (JIT, process pools, caches) before the clock starts.
            if (o.warmup > 0) await inject(target, sink, { ...o, messages: o.warmup }, size);
            const cpuBefore = cpuMs(target.pid());
            const threadsBefore = threadCpuMs(target.pid());
            const r = await inject(target, sink, o, size);
            const cpuAfter = cpuMs(target.pid());
            const byThread = threadCpuSince(threadsBefore, threadCpuMs(target.pid()));
            if (cpuBefore !== null && cpuAfter !== null)
              cpuPerMessage[target.name]?.push((cpuAfter - cpuBefore) / o.messages);
            if (target.name === 'mailtrail')
              threadCpu.push(new Map([...byThread].map(([t, ms]) => [t, ms / o.messages])));
            results[target.name]?.push(r);
            rss[target.name] = Math.max(rss[target.name] ?? 0, peakRssMb(target.pid()) ?? 0);
            log(
              `  ${r.acceptedPerSec.toFixed(0)} accepted/s, ${r.deliveredPerSec.toFixed(0)} delivered/s` +
                (cpuBefore !== null && cpuAfter !== null
                  ? `, CPU ${((cpuAfter - cpuBefore) / o.messages).toFixed(2)} ms/msg`
                  : '') +
                (target.name === 'mailtrail' && byThread.size > 0
                  ? ` (${[...byThread]
                      .sort((a, b) => b[1] - a[1])
                      .map(([t, ms]) => `${t} ${(ms / o.messages).toFixed(2)}`)
                      .join(', ')})`
                  : ''),
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
        mailtrailCpuMsPerMessage: cpuMedian(cpuPerMessage.mailtrail),
        mailtrailCpuMsPerMessageByThread: Object.fromEntries(
          [...(threadCpu[0]?.keys() ?? [])].map((t) => [
            t,
            cpuMedian(threadCpu.map((byThread) => byThread.get(t) ?? 0)),
          ]),
        ),
        postfixAccepted: Math.round(m('postfix', 'acceptedPerSec')),
        postfixDelivered: Math.round(m('postfix', 'deliveredPerSec')),
        ratioDelivered: Number(
          (m('mailtrail', 'deliveredPerSec') / m('postfix', 'deliveredPerSec')).toFixed(2),
        ),
        postfixCpuMsPerMessage: cpuMedian(cpuPerMessage.postfix),
        ratioCpu: cpuRatio(cpuPerMessage),
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
      'mailtrail CPU/msg',
      'postfix accepted/s',
      'postfix delivered/s',
      'ratio (delivered)',
      'postfix CPU/msg',
      'CPU ratio (postfix/mailtrail)',
    ],
  });
  for (const r of rows)
    table.push([
      `${r.size / 1024} KB`,
      r.messages,
      r.mailtrailAccepted,
      r.mailtrailDelivered,
      `${r.mailtrailPeakRssMb} MB`,
      `${r.mailtrailCpuMsPerMessage} ms`,
      r.postfixAccepted,
      r.postfixDelivered,
      `${r.ratioDelivered}×`,
      `${r.postfixCpuMsPerMessage} ms`,
      r.ratioCpu === null ? '-' : `${r.ratioCpu}×`,
    ]);
  process.stdout.write(
    `${table.toString()}\nmedians of ${o.runs} runs after ${o.warmup} warm-up messages each, ${o.sessions} smtp-source sessions, one connection per message\n`,
  );
};

await main();
