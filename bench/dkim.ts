/**
 * What DKIM signing costs.
 *
 *   npm run bench:dkim -- [--messages 2000] [--warmup 8000] [--sizes 2k,100k] [--runs 3] [--json]
 *
 * 1. signs/s of the signer alone (src/adapters/dkim: the signer threads the relay runs), per
 *    key set (RSA-2048, Ed25519, both: what an onboarded domain gets) and message size, 16
 *    messages in flight.
 * 2. The relay end to end with signing on and off, same load as `npm run bench`
 *    (smtp-source → mailtrail → smtp-sink), sender.test onboarded in both; runs alternate.
 */
import { createPrivateKey } from 'node:crypto';
import Table from 'cli-table3';
import {
  type DkimAlgorithm,
  generateDkimKeyPair,
  type SigningKey,
} from '../src/adapters/dkim/dkim-signer.js';
import {
  type DkimSigner,
  defaultSignerThreads,
  startSignerThreads,
} from '../src/adapters/dkim/signer-thread.js';
import { freePort } from '../test/support/relay-process.js';
import { parseBenchOptions } from './support/options.js';
import {
  ensurePostfix,
  inject,
  log,
  median,
  type RunResult,
  startMailtrail,
  startSink,
} from './support/targets.js';

const USAGE =
  'usage: npm run bench:dkim -- [--messages N] [--warmup N] [--sizes 2k,100k] [--sessions N] [--runs N] [--json]\n';

const key = (algorithm: DkimAlgorithm): SigningKey => ({
  domain: 'sender.test',
  selector: algorithm === 'rsa-sha256' ? 'bench-rsa' : 'bench-ed',
  algorithm,
  privateKey: createPrivateKey(generateDkimKeyPair(algorithm).privateKeyPem),
});

/** A message like a newsletter's: headers, then text lines with ordinary spacing. */
const messageOf = (size: number): Buffer => {
  const head =
    'From: News <news@sender.test>\r\nTo: reader@example.com\r\nSubject: This week\r\n' +
    'Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-ID: <bench@sender.test>\r\n' +
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n';
  const line = 'The quick brown fox jumps over the lazy dog, and then some more words.\r\n';
  return Buffer.from(head + line.repeat(Math.ceil(size / line.length)), 'latin1').subarray(0, size);
};

/** Messages signed per second, with 16 in flight as the SMTP listener has under load. */
const signsPerSecond = async (
  signer: DkimSigner,
  message: Buffer,
  keys: readonly SigningKey[],
): Promise<number> => {
  const at = Date.now();
  for (let i = 0; i < 20; i++) await signer.sign(message, keys, at); // warm
  let n = 0;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() - started < 1000) {
      await signer.sign(message, keys, at);
      n++;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return n / ((performance.now() - started) / 1000);
};

const main = async () => {
  const o = parseBenchOptions(process.argv.slice(2), USAGE);
  const rsa = key('rsa-sha256');
  const ed = key('ed25519-sha256');
  const keySets: Array<[string, SigningKey[]]> = [
    ['RSA-2048', [rsa]],
    ['Ed25519', [ed]],
    ['RSA-2048 + Ed25519', [rsa, ed]],
  ];
  const signer: Array<Record<string, string | number>> = [];
  const thread = await startSignerThreads(defaultSignerThreads());
  try {
    for (const size of o.sizes) {
      const message = messageOf(size);
      for (const [name, keys] of keySets) {
        const runs: number[] = [];
        for (let run = 0; run < o.runs; run++)
          runs.push(await signsPerSecond(thread, message, keys));
        signer.push({ size, keys: name, signsPerSec: Math.round(median(runs)) });
        log(`signer: ${name}, ${size} B: ${Math.round(median(runs))} signs/s`);
      }
    }
  } finally {
    await thread.close();
  }

  ensurePostfix();
  const sinkPort = await freePort();
  const sink = await startSink(sinkPort);
  const relay: Array<Record<string, string | number>> = [];
  try {
    for (const size of o.sizes) {
      const results: Record<string, RunResult[]> = { unsigned: [], signed: [] };
      for (let run = 1; run <= o.runs; run++)
        for (const dkim of ['unsigned', 'signed'] as const) {
          const target = await startMailtrail(sinkPort, { dkim });
          try {
            log(`${target.name}: ${o.messages} × ${size} B, run ${run}/${o.runs}…`);
            if (o.warmup > 0) await inject(target, sink, { ...o, messages: o.warmup }, size);
            const r = await inject(target, sink, o, size);
            results[dkim]?.push(r);
            log(
              `  ${r.acceptedPerSec.toFixed(0)} accepted/s, ${r.deliveredPerSec.toFixed(0)} delivered/s`,
            );
          } finally {
            await target.stop();
          }
        }
      const m = (name: string) => median((results[name] ?? []).map((r) => r.deliveredPerSec));
      relay.push({
        size,
        unsignedDelivered: Math.round(m('unsigned')),
        signedDelivered: Math.round(m('signed')),
        ratio: Number((m('signed') / m('unsigned')).toFixed(2)),
      });
    }
  } finally {
    sink.stop();
  }

  if (o.json) {
    process.stdout.write(`${JSON.stringify({ runs: o.runs, signer, relay }, null, 2)}\n`);
    return;
  }
  const a = new Table({ head: ['size', 'keys', 'signs/s (16 in flight)'] });
  for (const r of signer) a.push([`${Number(r.size) / 1024} KB`, r.keys, r.signsPerSec]);
  const b = new Table({
    head: ['size', 'delivered/s unsigned', 'delivered/s signed (RSA + Ed25519)', 'signed/unsigned'],
  });
  for (const r of relay)
    b.push([`${Number(r.size) / 1024} KB`, r.unsignedDelivered, r.signedDelivered, `${r.ratio}×`]);
  process.stdout.write(
    `${a.toString()}\n${b.toString()}\nmedians of ${o.runs} runs; relay: ${o.messages} messages after ${o.warmup} warm-up, ${o.sessions} smtp-source sessions\n`,
  );
};

await main();
