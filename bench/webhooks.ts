/**
 * Webhook deliveries and the event stream, out of a relay that already holds the history.
 *
 *   npm run bench:webhooks -- [--runs 3] [--messages 5000] [--formats LIST] [--no-streams]
 *                             [--cpu-prof DIR] [--json]
 *
 * Every measurement gets a fresh data dir, filled by this process before the relay starts:
 * through the event store itself (openSqliteEventStore on <dataDir>/events.db), a credential
 * (createCredential), for the webhook runs an endpoint of that credential (createWebhook,
 * events accepted and delivered), then --messages synthetic messages, each a MessageAccepted
 * (one recipient, the credential's mail) and a MessageDelivered in one append, 500 messages
 * per batch of appends. Then `mailtrail serve` starts on that data dir in its own process.
 *
 * - Webhooks: the endpoint is a receiver on 127.0.0.74, a separate node process (so this
 *   process's event loop is not what is measured) that answers 200 at once and counts what
 *   it took, until it holds every notification due (2 a message; Postmark has no "accepted"
 *   event, so 1), with the relay's default webhooks settings (4 requests in flight per
 *   endpoint). The relay starts posting before its HTTP port opens (the webhook thread is
 *   up first), so the rate is taken over the receiver's first to last notification; the
 *   seconds from the port being up, and from spawning the relay, are reported beside it.
 *   notifications/s counts the events inside SendGrid's arrays; requests/s counts POSTs.
 *   The receiver keys every notification (Mailgun `event-data.id`, SendGrid `sg_event_id`,
 *   native `position` + `recipient`, Postmark `MessageID` + `RecordType`): a key seen twice
 *   is a duplicate, and any duplicate is a bench failure (exit code 1).
 * - Streams: the relay with `http.streamToken`; this process reads
 *   `GET /v1/streams/events?after=0` once unmeasured (warm-up), then as NDJSON and as SSE
 *   (order alternating run by run) on the same relay, parsing every line, until
 *   2 × --messages events have come; the positions must rise strictly (a repeat is a
 *   duplicate, a bench failure).
 * - Variants (the formats, then streams) take turns, and swap order each run.
 */
import { deepStrictEqual } from 'node:assert';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Table from 'cli-table3';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ulid } from 'ulid';
import { openSqliteEventStore } from '../src/adapters/event-store/sqlite/sqlite-event-store.js';
import { createFileWebhookSecretStore } from '../src/adapters/webhook-secrets/file-webhook-secrets.js';
import { parseConfig } from '../src/apps/config/load-config.js';
import { createCredential } from '../src/apps/credentials/create-credential.js';
import { dataPaths } from '../src/apps/relay/data-paths.js';
import { createWebhook } from '../src/apps/webhooks/manage-webhooks.js';
import {
  type MessageAccepted,
  MessageAcceptedSchema,
  type MessageDelivered,
  MessageDeliveredSchema,
  messageStream,
} from '../src/domain/message/events.js';
import type { WebhookEventKind } from '../src/domain/webhook/notification.js';
import { webhookFormat } from '../src/domain/webhook-format/formats.js';
import {
  WEBHOOK_FORMAT_NAMES,
  type WebhookFormatName,
} from '../src/domain/webhook-format/webhook-format.js';
import { BIN, exited, freePort, REPO, waitForPort } from '../test/support/relay-process.js';
import { cpuMs, log, peakRssMb, sleep } from './support/targets.js';

const HOST = '127.0.0.1';
const RECEIVER_HOST = '127.0.0.74';
const HOSTNAME = 'relay.bench.test';
const DOMAIN = 'shop.test';
const STREAM_TOKEN = 'bench-stream-token-0123456789abcdef';
const EVENTS: readonly WebhookEventKind[] = ['accepted', 'delivered'];
const APPEND_BATCH = 500;

type StreamMode = 'ndjson' | 'sse';
type Variant = WebhookFormatName | 'streams';

// ---------------------------------------------------------------------------------------
// Options.

const wholeNumber =
  (min: number) =>
  (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`expected a whole number ≥ ${min}`);
    return n;
  };
const listOf =
  <T extends string>(allowed: readonly T[]) =>
  (text: string): T[] => {
    const items = text.split(',').map((s) => s.trim());
    const unknown = items.find((s) => !allowed.includes(s as T));
    if (unknown !== undefined)
      throw new InvalidArgumentError(`"${unknown}" is not one of ${allowed.join(', ')}`);
    return items as T[];
  };

interface Options {
  runs: number;
  messages: number;
  formats: WebhookFormatName[];
  streams: boolean;
  cpuProf?: string;
  json?: boolean;
}

const program = new Command('npm run bench:webhooks --')
  .description(
    'Webhook notifications/s per format (Mailgun, SendGrid, native, Postmark) and event-stream ' +
      'events/s (NDJSON, SSE) out of a `mailtrail serve` process started on a data dir that ' +
      'already holds --messages delivered messages (written into its event store beforehand). ' +
      `Webhooks go to a receiver process on ${RECEIVER_HOST} that answers 200 and counts ` +
      'them, timed from the first notification to the last (the relay posts before its HTTP ' +
      'port opens; the time from the port being up is shown too); any notification received ' +
      'twice is a failure (exit code 1). Each run on a fresh data dir; prints medians and ' +
      'min–max.',
  )
  .option('--runs <n>', 'measured runs of each variant', wholeNumber(1), 3)
  .option(
    '--messages <n>',
    'messages in the log before the relay starts (each: accepted + delivered)',
    wholeNumber(1),
    5000,
  )
  .addOption(
    new Option('--formats <list>', `comma-separated webhook formats: ${WEBHOOK_FORMAT_NAMES}`)
      .argParser(listOf(WEBHOOK_FORMAT_NAMES))
      .default(['mailgun', 'sendgrid', 'native', 'postmark'], 'all'),
  )
  .option('--no-streams', 'skip the event-stream measurement')
  .option(
    '--cpu-prof <dir>',
    'run the relay under node --cpu-prof (profiles in DIR) and print where its threads spent time',
  )
  .option('--json', 'print the results as JSON instead of a table')
  .addHelpText(
    'after',
    `
Notifications due per message: 2 (accepted, delivered) for mailgun, sendgrid (processed,
delivered; up to 100 a POST) and native; 1 for postmark (Delivery: Postmark has no event for
acceptance). The relay runs with its default webhooks settings (perEndpoint 4, maxInFlight 64).
Examples:
  npm run bench:webhooks -- --runs 3
  npm run bench:webhooks -- --formats sendgrid --no-streams --runs 1 --cpu-prof /tmp/prof`,
  );

// ---------------------------------------------------------------------------------------
// The data dir: a credential, maybe an endpoint, then the messages, straight into the log.

const RCPT = (i: number) => `customer${String(i).padStart(5, '0')}@receiver.test`;

const accepted = (
  messageId: string,
  i: number,
  credential: { id: string; name: string },
  at: number,
): MessageAccepted['data'] => ({
  messageId,
  acceptedAt: at,
  source: 'mailgun',
  credential,
  client: { address: HOST, helo: null, tls: false },
  envelope: {
    from: `orders@${DOMAIN}`,
    to: [{ address: RCPT(i), orcpt: null }],
    envId: null,
  },
  headers: {
    messageId: `<${messageId}@${HOSTNAME}>`,
    subject: 'Your order #10452 has shipped',
    from: `Shop <orders@${DOMAIN}>`,
  },
  size: 2418,
  bodyRef: `body-${messageId}`,
  jobId: null,
  lane: 'transactional',
  pool: null,
  returnPathDomain: null,
  recipientHeadersRef: null,
  batchId: null,
  apiMessageId: null,
  stream: null,
  tags: ['order-shipped'],
  metadata: { order: String(10_000 + i) },
  scheduledAt: null,
  testMode: false,
  requireTls: false,
  skipTlsVerification: false,
  tracking: { opens: false, clicks: false },
});

const delivered = (i: number, at: number): MessageDelivered['data'] => ({
  recipient: RCPT(i),
  site: 'domain:receiver.test',
  source: null,
  attempt: 1,
  at,
  reply: { code: 250, enhancedCode: '2.0.0', text: `2.0.0 Ok: queued as Q${i}` },
  remote: {
    mx: 'mx.receiver.test',
    ip: '127.0.0.71',
    sourceIp: HOST,
    tls: false,
    esmtp: ['PIPELINING', '8BITMIME', 'SMTPUTF8'],
  },
  queuedMs: 180,
});

/** Writes the history into a fresh data dir; returns how long that took, in seconds. */
const fill = async (
  dataDir: string,
  messages: number,
  webhook: { readonly format: WebhookFormatName; readonly url: string } | null,
): Promise<number> => {
  const started = performance.now();
  const paths = dataPaths(parseConfig({ dataDir, hostname: HOSTNAME }));
  const store = openSqliteEventStore({ path: paths.events });
  try {
    const credential = await createCredential(store, { name: 'app', domain: DOMAIN });
    const who = { id: credential.id, name: 'app' };
    // The endpoint first: an endpoint hears only of events after it in the log.
    if (webhook)
      await createWebhook(store, createFileWebhookSecretStore(paths.keys), {
        credentialId: credential.id,
        url: webhook.url,
        format: webhook.format,
        events: EVENTS,
      });
    const base = Date.now() - 60_000;
    for (let from = 0; from < messages; from += APPEND_BATCH) {
      await Promise.all(
        Array.from({ length: Math.min(APPEND_BATCH, messages - from) }, (_, k) => {
          const i = from + k;
          const messageId = ulid();
          const a = accepted(messageId, i, who, base + i);
          const d = delivered(i, base + i + 180);
          if (i === 0) {
            // Every field given, none defaulted or stripped: the shape the relay writes.
            deepStrictEqual(MessageAcceptedSchema.parse(a), a);
            deepStrictEqual(MessageDeliveredSchema.parse(d), d);
          }
          return store.appendToStream(
            messageStream(messageId),
            [
              { eventId: randomUUID(), type: 'MessageAccepted', data: a },
              { eventId: randomUUID(), type: 'MessageDelivered', data: d },
            ],
            { expectedRevision: 'no_stream' },
          );
        }),
      );
    }
  } finally {
    await store.close();
  }
  return (performance.now() - started) / 1000;
};

// ---------------------------------------------------------------------------------------
// The receiver: its own process, answering 200 and keying every notification.

interface ReceiverStats {
  /** Notifications received, repeats included (events inside SendGrid arrays each count). */
  readonly notifications: number;
  readonly distinct: number;
  readonly duplicates: number;
  readonly requests: number;
  /** Bodies it could not key (not JSON, or no id where the format has one). */
  readonly bad: number;
  readonly firstAt: number;
  /** Epoch ms the last distinct notification came. */
  readonly lastAt: number;
}

const RECEIVER_SOURCE = `
const http = require('node:http');
const keysOf = {
  mailgun: (b) => [b['event-data'] && b['event-data'].id],
  sendgrid: (b) => b.map((e) => e.sg_event_id),
  native: (b) => [b.position === undefined ? undefined : b.position + ' ' + b.recipient],
  postmark: (b) => [b.MessageID === undefined ? undefined : b.MessageID + ' ' + b.RecordType],
};
let format = 'native', expect = Infinity, announced = false, seen = new Set();
let s = { notifications: 0, distinct: 0, duplicates: 0, requests: 0, bad: 0, firstAt: 0, lastAt: 0 };
process.on('message', (m) => {
  if (m.type === 'reset') {
    format = m.format; expect = m.expect; announced = false; seen = new Set();
    s = { notifications: 0, distinct: 0, duplicates: 0, requests: 0, bad: 0, firstAt: 0, lastAt: 0 };
    process.send({ type: 'reply', id: m.id, stats: s });
  } else if (m.type === 'report') process.send({ type: 'reply', id: m.id, stats: s });
});
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    const now = Date.now();
    s.requests++;
    if (!s.firstAt) s.firstAt = now;
    let keys;
    try { keys = keysOf[format](JSON.parse(Buffer.concat(chunks).toString('utf8'))); }
    catch { s.bad++; return; }
    for (const k of keys) {
      if (k === undefined || k === null) { s.bad++; continue; }
      s.notifications++;
      if (seen.has(k)) s.duplicates++;
      else { seen.add(k); s.distinct++; s.lastAt = now; }
    }
    if (!announced && s.distinct >= expect) { announced = true; process.send({ type: 'done', stats: s }); }
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, process.argv[1], () => process.send({ type: 'listening', port: server.address().port }));
`;

interface Receiver {
  readonly url: string;
  readonly pid: number | undefined;
  reset(format: WebhookFormatName, expect: number): Promise<ReceiverStats>;
  report(): Promise<ReceiverStats>;
  /** Resolves with the stats once `expect` distinct notifications have come. */
  done(): Promise<ReceiverStats>;
  stop(): Promise<void>;
}

type ReceiverMessage =
  | { type: 'listening'; port: number }
  | { type: 'reply'; id: number; stats: ReceiverStats }
  | { type: 'done'; stats: ReceiverStats };

const startReceiver = async (): Promise<Receiver> => {
  const child = spawn(process.execPath, ['-e', RECEIVER_SOURCE, RECEIVER_HOST], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, (s: ReceiverStats) => void>();
  let nextId = 0;
  let onDone: ((s: ReceiverStats) => void) | null = null;
  let doneStats: ReceiverStats | null = null;
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the receiver exited (${code})`)));
    child.on('message', (m: ReceiverMessage) => {
      if (m.type === 'listening') resolve(m.port);
      else if (m.type === 'reply') {
        waiting.get(m.id)?.(m.stats);
        waiting.delete(m.id);
      } else {
        doneStats = m.stats;
        onDone?.(m.stats);
      }
    });
  });
  const ask = (message: object) =>
    new Promise<ReceiverStats>((resolve) => {
      const id = ++nextId;
      waiting.set(id, resolve);
      child.send({ ...message, id });
    });
  return {
    url: `http://${RECEIVER_HOST}:${port}/hooks`,
    pid: child.pid,
    reset: (format, expect) => {
      doneStats = null;
      onDone = null;
      return ask({ type: 'reset', format, expect });
    },
    report: () => ask({ type: 'report' }),
    done: () =>
      doneStats
        ? Promise.resolve(doneStats)
        : new Promise((resolve) => {
            onDone = resolve;
          }),
    stop: async () => {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
};

// ---------------------------------------------------------------------------------------
// The relay.

interface Relay {
  readonly url: string;
  readonly httpPort: number;
  readonly pid: number | undefined;
  /** Epoch ms it was spawned, and its HTTP port was first seen open. */
  readonly spawnedAt: number;
  readonly upAt: number;
  stop(): Promise<void>;
}

const startRelay = async (
  dir: string,
  dataDir: string,
  streamToken: string | null,
  profileDir: string | null,
): Promise<Relay> => {
  const [smtpPort, httpPort] = [await freePort(), await freePort()];
  const config = join(dir, 'mailtrail.yaml');
  writeFileSync(
    config,
    [
      `dataDir: ${dataDir}`,
      `hostname: ${HOSTNAME}`,
      'log: { level: warn }',
      `smtp: { listen: "${HOST}:${smtpPort}" }`,
      `http: { listen: "${HOST}:${httpPort}", streamToken: ${JSON.stringify(streamToken)} }`,
      'bounces: { listen: null }',
      '',
    ].join('\n'),
  );
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const spawnedAt = Date.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [...profile, BIN, 'serve', '--config', config],
    { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[relay] ${d}`));
  let listening = false;
  const early = exited(child).then(() => {
    if (!listening)
      throw new Error(`the relay exited (${child.exitCode ?? child.signalCode}) before listening`);
  });
  early.catch(() => {});
  try {
    await Promise.race([waitForPort(httpPort, HOST, 120_000), early]);
    listening = true;
  } catch (error) {
    child.kill('SIGKILL');
    await exited(child);
    throw error;
  }
  return {
    url: `http://${HOST}:${httpPort}`,
    httpPort,
    pid: child.pid,
    spawnedAt,
    upAt: Date.now(),
    stop: async () => {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited(child);
      clearTimeout(killer);
    },
  };
};

/** A process's CPU time so far, all threads, in seconds (0 when it cannot be read). */
const cpuSeconds = (pid: number | undefined): number => (cpuMs(pid) ?? 0) / 1000;

// ---------------------------------------------------------------------------------------
// Measurements.

interface WebhookRun {
  readonly variant: WebhookFormatName;
  readonly run: number;
  readonly expected: number;
  /** From the receiver's first notification to its last: the dispatch rate. */
  readonly seconds: number;
  /** From the relay's HTTP port being up to the last notification (≤ 0: all came before). */
  readonly secondsFromPortUp: number;
  /** From spawning the relay to the last notification (its start-up included). */
  readonly secondsFromSpawn: number;
  /** From spawning the relay to its HTTP port being up. */
  readonly startupSeconds: number;
  readonly fillSeconds: number;
  /** Notifications over `seconds`. */
  readonly perSec: number;
  /** Notifications over `secondsFromPortUp` (null when they all came before the port was up). */
  readonly perSecFromPortUp: number | null;
  readonly requestsPerSec: number;
  readonly requests: number;
  /** Notifications the receiver already had when the HTTP port opened. */
  readonly beforePortUp: number;
  readonly duplicates: number;
  readonly bad: number;
  /**
   * The relay's CPU time (all threads) from its port being up to the last notification, per
   * notification received meanwhile (null when fewer than a tenth came then).
   */
  readonly relayCpuUsPerItem: number | null;
  /** The receiver's CPU, % of one core over `seconds`. */
  readonly consumerCpuPct: number;
  readonly relayPeakRssMb: number | null;
  readonly failures: string[];
}

const PROGRESS_MS = 5000;

const measureWebhooks = async (
  o: Options,
  root: string,
  receiver: Receiver,
  format: WebhookFormatName,
  run: number,
): Promise<WebhookRun> => {
  const what = `${format} run ${run}`;
  const dir = mkdtempSync(join(root, `${format}-`));
  const dataDir = join(dir, 'data');
  const expected = o.messages * EVENTS.filter((k) => webhookFormat(format).kinds.has(k)).length;
  const failures: string[] = [];
  try {
    const fillSeconds = await fill(dataDir, o.messages, { format, url: receiver.url });
    log(`  log filled in ${fillSeconds.toFixed(1)} s; ${expected} notifications due`);
    await receiver.reset(format, expected);
    const profileDir = o.cpuProf ? join(o.cpuProf, `${format}-${run}`) : null;
    const receiverCpu0 = cpuSeconds(receiver.pid);
    const relay = await startRelay(dir, dataDir, null, profileDir);
    let stats: ReceiverStats;
    let before: ReceiverStats;
    let relayCpu: number;
    let receiverCpu: number;
    let rss: number | null;
    try {
      const relayCpu0 = cpuSeconds(relay.pid);
      before = await receiver.report();
      // Give up when nothing new has come for a minute.
      let last = before.distinct;
      let lastChange = Date.now();
      const done = receiver.done();
      for (;;) {
        const finished = await Promise.race([done, sleep(PROGRESS_MS).then(() => null)]);
        if (finished) {
          stats = finished;
          break;
        }
        const now = await receiver.report();
        log(
          `  ${now.distinct}/${expected} notifications after ${((Date.now() - relay.upAt) / 1000).toFixed(0)} s`,
        );
        if (now.distinct > last) {
          last = now.distinct;
          lastChange = Date.now();
        } else if (Date.now() - lastChange > 60_000) {
          failures.push(`${what}: stuck at ${now.distinct}/${expected} notifications for 60 s`);
          stats = now;
          break;
        }
      }
      relayCpu = cpuSeconds(relay.pid) - relayCpu0;
      receiverCpu = cpuSeconds(receiver.pid) - receiverCpu0;
      rss = peakRssMb(relay.pid);
    } finally {
      await relay.stop();
      if (profileDir) printProfiles(profileDir, what);
    }
    // Anything sent twice, up to the relay's shutdown, counts.
    const final = await receiver.report();
    if (final.duplicates > 0)
      failures.push(`${what}: ${final.duplicates} notifications received twice`);
    if (final.bad > 0)
      failures.push(`${what}: ${final.bad} notifications the receiver could not key`);
    const seconds = Math.max(stats.lastAt - stats.firstAt, 1) / 1000;
    const secondsFromPortUp = (stats.lastAt - relay.upAt) / 1000;
    const afterPortUp = stats.distinct - before.distinct;
    return {
      variant: format,
      run,
      expected,
      seconds,
      secondsFromPortUp,
      secondsFromSpawn: (stats.lastAt - relay.spawnedAt) / 1000,
      startupSeconds: (relay.upAt - relay.spawnedAt) / 1000,
      fillSeconds,
      perSec: stats.distinct / seconds,
      perSecFromPortUp: secondsFromPortUp > 0 ? stats.distinct / secondsFromPortUp : null,
      requestsPerSec: stats.requests / seconds,
      requests: stats.requests,
      beforePortUp: before.distinct,
      duplicates: final.duplicates,
      bad: final.bad,
      relayCpuUsPerItem: afterPortUp >= expected / 10 ? (1e6 * relayCpu) / afterPortUp : null,
      consumerCpuPct: (100 * receiverCpu) / seconds,
      relayPeakRssMb: rss,
      failures,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

interface StreamRun {
  readonly variant: StreamMode;
  readonly run: number;
  readonly expected: number;
  readonly seconds: number;
  readonly perSec: number;
  readonly bytes: number;
  readonly duplicates: number;
  readonly types: Readonly<Record<string, number>>;
  readonly relayCpuUsPerItem: number;
  /** This process (the reader, parsing every line), % of one core. */
  readonly consumerCpuPct: number;
  readonly failures: string[];
}

/** Reads the event stream until `expected` events have come; parses every one. */
const readStream = (
  relay: Relay,
  mode: StreamMode,
  expected: number,
): Promise<{
  seconds: number;
  events: number;
  bytes: number;
  duplicates: number;
  types: Record<string, number>;
}> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    let events = 0;
    let bytes = 0;
    let duplicates = 0;
    let lastPosition = -1n;
    let pending = '';
    const types: Record<string, number> = {};
    const take = (json: string) => {
      const line = JSON.parse(json) as { position: string; type: string };
      const position = BigInt(line.position);
      if (position <= lastPosition) duplicates++;
      lastPosition = position;
      types[line.type] = (types[line.type] ?? 0) + 1;
      events++;
    };
    const separator = mode === 'sse' ? '\n\n' : '\n';
    const req = httpRequest(
      `${relay.url}/v1/streams/events?after=0`,
      {
        headers: {
          authorization: `Bearer ${STREAM_TOKEN}`,
          accept: mode === 'sse' ? 'text/event-stream' : 'application/x-ndjson',
        },
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET /v1/streams/events (${mode}): HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          bytes += Buffer.byteLength(chunk);
          pending += chunk;
          let end = pending.indexOf(separator);
          while (end >= 0 && events < expected) {
            const item = pending.slice(0, end);
            pending = pending.slice(end + separator.length);
            if (mode === 'ndjson') take(item);
            else {
              // id:, event: and data: lines; comments (": keep-alive") carry no event.
              const data = item
                .split('\n')
                .filter((l) => l.startsWith('data:'))
                .map((l) => l.slice(5).trimStart())
                .join('\n');
              if (data) take(data);
            }
            end = pending.indexOf(separator);
          }
          if (events >= expected) {
            const seconds = (performance.now() - started) / 1000;
            req.destroy();
            resolve({ seconds, events, bytes, duplicates, types });
          }
        });
        res.on('error', () => {});
        res.on('end', () =>
          reject(new Error(`the ${mode} stream ended after ${events}/${expected} events`)),
        );
      },
    );
    req.on('error', (error) => {
      if (events < expected) reject(error);
    });
    req.end();
  });

const measureStreams = async (o: Options, root: string, run: number): Promise<StreamRun[]> => {
  const dir = mkdtempSync(join(root, 'streams-'));
  const dataDir = join(dir, 'data');
  const expected = 2 * o.messages;
  try {
    const fillSeconds = await fill(dataDir, o.messages, null);
    log(`  log filled in ${fillSeconds.toFixed(1)} s; reading ${expected} events each way`);
    const profileDir = o.cpuProf ? join(o.cpuProf, `streams-${run}`) : null;
    const relay = await startRelay(dir, dataDir, STREAM_TOKEN, profileDir);
    const results: StreamRun[] = [];
    try {
      // One unmeasured read first: otherwise whichever format goes first pays for the
      // relay's cold start (JIT, the log's pages) and comes out about a quarter slower.
      await readStream(relay, 'ndjson', expected);
      await sleep(500);
      const modes: StreamMode[] = run % 2 ? ['ndjson', 'sse'] : ['sse', 'ndjson'];
      for (const mode of modes) {
        const failures: string[] = [];
        const relayCpu0 = cpuSeconds(relay.pid);
        const own0 = process.cpuUsage();
        const r = await readStream(relay, mode, expected);
        const own = process.cpuUsage(own0);
        const relayCpu = cpuSeconds(relay.pid) - relayCpu0;
        if (r.duplicates > 0)
          failures.push(`streams ${mode} run ${run}: ${r.duplicates} positions repeated`);
        log(
          `  ${mode}: ${expected} events in ${r.seconds.toFixed(2)} s, ` +
            `${num(expected / r.seconds)}/s`,
        );
        results.push({
          variant: mode,
          run,
          expected,
          seconds: r.seconds,
          perSec: r.events / r.seconds,
          bytes: r.bytes,
          duplicates: r.duplicates,
          types: r.types,
          relayCpuUsPerItem: (1e6 * relayCpu) / r.events,
          consumerCpuPct: (own.user + own.system) / 1e4 / r.seconds,
          failures,
        });
        // Let the relay see the hang-up before the next reader comes.
        await sleep(500);
      }
    } finally {
      await relay.stop();
      if (profileDir) printProfiles(profileDir, `streams run ${run}`);
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

// ---------------------------------------------------------------------------------------
// CPU profiles: where the relay's threads spent their time (per module, as bench:http).

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const moduleOf = (url: string): string => {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  return pkg ? `npm:${pkg[1]}` : url.replace(`file://${REPO}/`, '');
};

const printProfiles = (dir: string, what: string) => {
  if (!existsSync(dir)) return;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const byModule = new Map<string, number>();
    let busy = 0;
    let total = 0;
    profile.samples.forEach((id, i) => {
      const dt = profile.timeDeltas[i + 1] ?? 0;
      total += dt;
      const frame = nodes.get(id)?.callFrame;
      if (!frame || frame.functionName === '(idle)') return;
      busy += dt;
      let owner: string | null = null;
      for (let at: number | undefined = id; at !== undefined && !owner; at = parent.get(at)) {
        const url = nodes.get(at)?.callFrame.url ?? '';
        if (url.startsWith('file://')) owner = moduleOf(url);
      }
      const mod = owner ?? (frame.url ? 'node internals' : frame.functionName);
      byModule.set(mod, (byModule.get(mod) ?? 0) + dt);
    });
    if (busy < 300_000) continue;
    log(
      `\n${what}: relay thread ${file.split('.')[4]}, ${(busy / 1e6).toFixed(1)} s busy of ` +
        `${(total / 1e6).toFixed(1)} s; by module:`,
    );
    for (const [key, us] of [...byModule].sort((a, b) => b[1] - a[1]).slice(0, 12))
      log(`  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${key}`);
  }
};

// ---------------------------------------------------------------------------------------

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const stats = (xs: readonly number[]) => ({
  median: median(xs),
  min: Math.min(...xs),
  max: Math.max(...xs),
});
const num = (n: number) => (Math.abs(n) < 10 ? n.toFixed(1) : String(Math.round(n)));
const optional = (n: number | null) => (n === null || Number.isNaN(n) ? '—' : num(n));
const medianOf = (xs: ReadonlyArray<number | null>): number | null => {
  const known = xs.filter((x): x is number => x !== null);
  return known.length ? median(known) : null;
};

const main = async () => {
  const o = program.parse().opts<Options>();
  if (o.cpuProf) mkdirSync(o.cpuProf, { recursive: true });
  const root = mkdtempSync(join(tmpdir(), 'bench-webhooks-'));
  const receiver = await startReceiver();
  const webhookRuns: WebhookRun[] = [];
  const streamRuns: StreamRun[] = [];
  const aborted: string[] = [];
  const variants: Variant[] = [...o.formats, ...(o.streams ? (['streams'] as const) : [])];
  try {
    log(
      `receiver on ${receiver.url}; ${o.runs} runs × ${variants.length} variants ` +
        `(${variants.join(', ')}), ${o.messages} messages each`,
    );
    for (let run = 1; run <= o.runs; run++)
      for (const variant of run % 2 ? variants : [...variants].reverse()) {
        log(`${variant}, run ${run}/${o.runs}…`);
        try {
          if (variant === 'streams') streamRuns.push(...(await measureStreams(o, root, run)));
          else {
            const m = await measureWebhooks(o, root, receiver, variant, run);
            webhookRuns.push(m);
            log(
              `  ${m.expected} notifications in ${m.seconds.toFixed(2)} s first to last: ` +
                `${num(m.perSec)}/s, ${num(m.requestsPerSec)} requests/s; last one ` +
                `${m.secondsFromPortUp.toFixed(2)} s after the HTTP port was up ` +
                `(${m.beforePortUp} came before), ${m.secondsFromSpawn.toFixed(2)} s after spawn ` +
                `(start-up ${m.startupSeconds.toFixed(2)} s); relay ${optional(m.relayCpuUsPerItem)} ` +
                `µs CPU each, receiver ${num(m.consumerCpuPct)}% of a core, ` +
                `${m.duplicates} duplicates`,
            );
          }
        } catch (error) {
          const what = `${variant} run ${run}: ${String(error)}`;
          aborted.push(what);
          log(`  failed: ${what}`);
        }
      }
  } finally {
    await receiver.stop();
    rmSync(root, { recursive: true, force: true });
  }

  const webhookRows = o.formats.flatMap((format) => {
    const ms = webhookRuns.filter((m) => m.variant === format);
    if (ms.length === 0) return [];
    return {
      feature: 'webhooks' as const,
      variant: format,
      itemsPerRun: ms[0]?.expected ?? 0,
      perSec: stats(ms.map((m) => m.perSec)),
      requestsPerSec: stats(ms.map((m) => m.requestsPerSec)),
      seconds: median(ms.map((m) => m.seconds)),
      secondsFromPortUp: median(ms.map((m) => m.secondsFromPortUp)),
      secondsFromSpawn: median(ms.map((m) => m.secondsFromSpawn)),
      beforePortUp: median(ms.map((m) => m.beforePortUp)),
      relayCpuUsPerItem: medianOf(ms.map((m) => m.relayCpuUsPerItem)),
      consumerCpuPct: median(ms.map((m) => m.consumerCpuPct)),
      duplicates: ms.reduce((a, m) => a + m.duplicates, 0),
      failures: ms.flatMap((m) => m.failures),
      runs: ms,
    };
  });
  const streamRows = (['ndjson', 'sse'] as const).flatMap((mode) => {
    const ms = streamRuns.filter((m) => m.variant === mode);
    if (ms.length === 0) return [];
    return {
      feature: 'streams' as const,
      variant: mode,
      itemsPerRun: ms[0]?.expected ?? 0,
      perSec: stats(ms.map((m) => m.perSec)),
      requestsPerSec: null,
      seconds: median(ms.map((m) => m.seconds)),
      secondsFromPortUp: null,
      secondsFromSpawn: null,
      beforePortUp: null,
      relayCpuUsPerItem: median(ms.map((m) => m.relayCpuUsPerItem)),
      consumerCpuPct: median(ms.map((m) => m.consumerCpuPct)),
      duplicates: ms.reduce((a, m) => a + m.duplicates, 0),
      failures: ms.flatMap((m) => m.failures),
      runs: ms,
    };
  });
  const rows = [...webhookRows, ...streamRows];
  const failures = [...aborted, ...rows.flatMap((r) => r.failures)];
  if (o.json) {
    const twoDecimals = (_key: string, v: unknown) =>
      typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(2)) : v;
    process.stdout.write(
      `${JSON.stringify(
        { runs: o.runs, messages: o.messages, results: rows, failures },
        twoDecimals,
        2,
      )}\n`,
    );
  } else {
    const range = (s: { median: number; min: number; max: number }) =>
      `${num(s.median)} (${num(s.min)}–${num(s.max)})`;
    const table = new Table({
      head: [
        'what',
        'format',
        'items/run',
        'items/s',
        'requests/s',
        's: first→last / port up→last / spawn→last',
        'before port up',
        'relay CPU µs/item',
        'consumer CPU %',
        'duplicates',
      ],
      style: { head: [], border: [] },
    });
    for (const r of rows)
      table.push([
        r.feature === 'webhooks' ? 'webhook notifications' : 'stream events',
        r.variant,
        r.itemsPerRun,
        range(r.perSec),
        r.requestsPerSec ? range(r.requestsPerSec) : '1 request',
        r.secondsFromSpawn === null || r.secondsFromPortUp === null
          ? r.seconds.toFixed(2)
          : `${r.seconds.toFixed(2)} / ${r.secondsFromPortUp.toFixed(2)} / ${r.secondsFromSpawn.toFixed(2)}`,
        r.beforePortUp ?? '',
        optional(r.relayCpuUsPerItem),
        num(r.consumerCpuPct),
        r.duplicates,
      ]);
    process.stdout.write(
      `${table.toString()}\n` +
        `Medians (min–max) of ${o.runs} runs, each on a fresh data dir holding ${o.messages} ` +
        'delivered messages written before the relay started.\n' +
        `Webhooks: items/s and requests/s over the span from the receiver's (${RECEIVER_HOST}, ` +
        'its own process) first notification to the last due; the relay starts posting before ' +
        'its HTTP port opens, so the seconds from port up (and from spawning the relay) are ' +
        'shown beside it, with how many notifications had come before the port was up. items: ' +
        'notifications (events inside SendGrid arrays each count); requests: POSTs; relay CPU ' +
        'from port up, per notification received after it; consumer: the receiver process.\n' +
        'Streams: GET /v1/streams/events?after=0 read by this process, every line parsed, ' +
        'until all events came, after one unmeasured read; consumer: this process.\n' +
        'relay CPU: the relay process, all threads.\n',
    );
  }
  if (failures.length > 0) {
    log(`\nBENCH FAILURES (${failures.length}):\n${failures.map((f) => `  ${f}`).join('\n')}`);
    process.exitCode = 1;
  }
};

await main();
