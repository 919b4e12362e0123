/**
 * The HTTP sending APIs (Mailgun, SendGrid, Postmark) under load, with durable acceptance:
 * every 2xx is answered after the message is in the event log, fsynced.
 *
 *   npm run bench:http -- [--runs 3] [--duration 10] [--warmup 10] [--connections 32[,64…]]
 *                         [--batch-connections 4] [--scenarios LIST] [--variants LIST]
 *                         [--target 2000] [--cpu-prof DIR] [--json]
 *
 * The relay is `mailtrail serve` in its own process, a fresh data dir for every measurement
 * (copied from a template made once per variant through the CLI: `credentials add app
 * --domain shop.test --api-key --json`, and for the signed variant `domains add shop.test
 * --credential app`), delivering everything to a sink on 127.0.0.71 (Postfix's smtp-sink
 * when installed, else `mailtrail sink`) while it takes the load. autocannon (programmatic)
 * sends one request body, built once per scenario, over keep-alive connections.
 *
 * - single: one ~2 KB text+html message a request, --connections at once, --duration
 *   seconds. requests/s = 2xx answers over the run. Several counts (`--connections 32,64`)
 *   each get their runs: with a 2xx only after the fsynced group commit, what the relay
 *   takes grows with what clients keep in flight, and the sweep shows how.
 * - Acceptance alone, what the front door takes when the machine is not also delivering:
 *   - sendgrid-sandbox and mailgun-testmode: the SendGrid single message with
 *     `mail_settings.sandbox_mode`, the Mailgun one with `o:testmode`: accepted and recorded
 *     as any other (durably, signed, projected), never delivered.
 *   - postmark-held: Postmark has no such flag (its test token validates a request without
 *     storing it), so the Postmark single message is sent as it is, and the relay's route
 *     leads to a tarpit on 127.0.0.72 instead of the sink: a receiving MX that takes
 *     connections and never greets, as a throttling ISP may. The relay's few connections
 *     wait, and the rest of the mail waits in its queue, as it would.
 * - batch: 1,000 recipients a request (Mailgun: 1,000 `to` with recipient-variables, one
 *   message each; SendGrid: 1,000 personalizations; Postmark: /email/batch, 500 messages of
 *   2 recipients), --batch-connections at once. A batch run sends a fixed number of requests,
 *   sized from the warm-up to last about --duration, and is timed to its last answer, so no
 *   batch is cut off half done at the end of the window.
 * - Variants: `signed` (shop.test onboarded: every message DKIM-signed, RSA-2048 and
 *   Ed25519, at acceptance; like all mail of an onboarded domain it also gets a VERP return
 *   path) and `unsigned` (credential only: no signature). They alternate run by run.
 * - Only 2xx count; a Postmark batch item counts only with ErrorCode 0. Any non-2xx, socket
 *   error, timeout or refused item is a bench failure: reported, and the exit code is 1.
 *   After each run the relay's /status must list at least as many recipients as were
 *   answered 2xx (every acknowledged message was recorded).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Table from 'cli-table3';
import { Command, InvalidArgumentError, Option } from 'commander';
import FormData from 'form-data';
import { BIN, exited, freePort, REPO, waitForPort } from '../test/support/relay-process.js';
import { cpuMs, log, peakRssMb, sleep, threadCpuMs, threadCpuSince } from './support/targets.js';

// autocannon ships no types: the part of its programmatic API used here.
interface CannonRequest {
  readonly method: 'POST';
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly onResponse: (status: number, body: string) => void;
}
interface CannonOptions {
  readonly url: string;
  readonly connections: number;
  readonly duration?: number;
  readonly amount?: number;
  /** Seconds. */
  readonly timeout: number;
  readonly requests: readonly CannonRequest[];
}
interface CannonResult {
  /** Seconds, from start to the sampling tick that stopped it. */
  readonly duration: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly statusCodeStats: Readonly<Record<string, { readonly count: number }>>;
  readonly latency: { readonly p50: number; readonly p99: number };
}
const autocannon = createRequire(import.meta.url)('autocannon') as (
  options: CannonOptions,
) => Promise<CannonResult>;

const HOST = '127.0.0.1';
const SINK_HOST = '127.0.0.71';
const TARPIT_HOST = '127.0.0.72';
const DOMAIN = 'shop.test';
const FROM_ADDRESS = `orders@${DOMAIN}`;
const FROM = `Shop <${FROM_ADDRESS}>`;
const RCPT = (i: number) => `customer${String(i).padStart(4, '0')}@receiver.test`;

type Variant = 'signed' | 'unsigned';
const VARIANTS: readonly Variant[] = ['signed', 'unsigned'];
const VARIANT_LABEL: Record<Variant, string> = {
  signed:
    'shop.test onboarded with `domains add` (DKIM RSA-2048 + Ed25519 at acceptance, VERP return paths)',
  unsigned: 'credential only, domain not onboarded (no signature, the relay’s own return path)',
};

// ---------------------------------------------------------------------------------------
// The message: an order notice, text and HTML, about 2 KB of content.

const SUBJECT = 'Your order #10452 has shipped';
const TEXT_OF = (name: string) =>
  [
    `Hello ${name},`,
    '',
    'Good news: your order #10452 left our warehouse this morning and is on its way.',
    'It travels with Parcelway, tracking number PW 4471 2290 1834; the carrier expects to',
    'deliver it on Tuesday between 9:00 and 13:00. You can follow it at',
    'https://shop.test/orders/10452/tracking',
    '',
    'What is in the parcel:',
    '  1 x Linen shirt, sky blue, size M ............ 49.00 EUR',
    '  2 x Merino socks, charcoal ..................... 24.00 EUR',
    '  1 x Canvas tote bag ............................ 18.00 EUR',
    '  Shipping ....................................... 0.00 EUR',
    '  Total (VAT included) ........................... 91.00 EUR',
    '',
    'Not at home? The carrier leaves a notice and tries again the next working day, or you',
    'can pick a parcel point from the tracking page. Returns are free for 30 days: keep',
    'the label that came in the box, or print a new one from your account.',
    '',
    'Thank you for shopping with us,',
    'The Shop team',
    '',
    'Shop Ltd, 12 Harbour Street, Portsmouth. Questions? Reply to this message.',
  ].join('\n');
const HTML_OF = (name: string) =>
  [
    '<!doctype html><html><body style="font-family:Helvetica,Arial,sans-serif;color:#222">',
    `<p>Hello ${name},</p>`,
    '<p>Good news: your order <b>#10452</b> left our warehouse this morning and is on its way.',
    'It travels with Parcelway, tracking number <code>PW 4471 2290 1834</code>; the carrier',
    'expects to deliver it on <b>Tuesday between 9:00 and 13:00</b>.</p>',
    '<p><a href="https://shop.test/orders/10452/tracking">Follow your parcel</a></p>',
    '<table cellpadding="4" style="border-collapse:collapse">',
    '<tr><td>1 &times; Linen shirt, sky blue, size M</td><td align="right">49.00 EUR</td></tr>',
    '<tr><td>2 &times; Merino socks, charcoal</td><td align="right">24.00 EUR</td></tr>',
    '<tr><td>1 &times; Canvas tote bag</td><td align="right">18.00 EUR</td></tr>',
    '<tr><td>Shipping</td><td align="right">0.00 EUR</td></tr>',
    '<tr><td><b>Total</b> (VAT included)</td><td align="right"><b>91.00 EUR</b></td></tr>',
    '</table>',
    '<p>Not at home? The carrier leaves a notice and tries again the next working day.',
    'Returns are free for 30 days.</p>',
    '<p>Thank you for shopping with us,<br>The Shop team</p>',
    '<p style="font-size:11px;color:#888">Shop Ltd, 12 Harbour Street, Portsmouth.</p>',
    '</body></html>',
  ].join('\n');
const TEXT = TEXT_OF('Alex');
const HTML = HTML_OF('Alex');

// ---------------------------------------------------------------------------------------
// Scenarios: one prebuilt request each.

type Api = 'Mailgun' | 'SendGrid' | 'Postmark';

interface Scenario {
  readonly name: string;
  readonly api: Api;
  readonly kind: 'single' | 'batch';
  readonly endpoint: string;
  readonly messagesPerRequest: number;
  readonly recipientsPerMessage: number;
  /** The request, for an API key. */
  readonly request: (apiKey: string) => {
    readonly path: string;
    readonly headers: Record<string, string>;
    readonly body: Buffer;
  };
  /** Messages a 2xx answer says were taken (a Postmark batch answers per item). */
  readonly taken: (body: string) => number;
  /**
   * What becomes of the mail while the load runs: delivered to the sink, held (its route
   * leads to the tarpit), or nothing (a test mode: recorded, never delivered). Only
   * `delivered` has the relay delivering beside accepting.
   */
  readonly meanwhile: 'delivered' | 'held' | 'test mode';
}

const json = (body: unknown) => Buffer.from(JSON.stringify(body));
const all = (n: number) => () => n;
const BATCH = 1000;

const mailgunForm = (fields: ReadonlyArray<readonly [string, string]>, apiKey: string) => {
  const form = new FormData();
  for (const [name, value] of fields) form.append(name, value);
  return {
    path: `/v3/${DOMAIN}/messages`,
    headers: {
      ...(form.getHeaders() as Record<string, string>),
      Authorization: `Basic ${Buffer.from(`api:${apiKey}`).toString('base64')}`,
    },
    body: form.getBuffer(),
  };
};

/** The Mailgun single message, with `extra` fields. */
const mailgunSingle = (apiKey: string, extra: ReadonlyArray<readonly [string, string]>) =>
  mailgunForm(
    [
      ['from', FROM],
      ['to', RCPT(0)],
      ['subject', SUBJECT],
      ['text', TEXT],
      ['html', HTML],
      ...extra,
    ],
    apiKey,
  );

/** The SendGrid single message, with `extra` top-level fields. */
const sendgridSingle = (apiKey: string, extra: Record<string, unknown>) => ({
  path: '/v3/mail/send',
  headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
  body: json({
    personalizations: [{ to: [{ email: RCPT(0) }] }],
    from: { email: FROM_ADDRESS, name: 'Shop' },
    subject: SUBJECT,
    content: [
      { type: 'text/plain', value: TEXT },
      { type: 'text/html', value: HTML },
    ],
    ...extra,
  }),
});

/** The Postmark single message. */
const postmarkSingle = (apiKey: string) => ({
  path: '/email',
  headers: {
    'X-Postmark-Server-Token': apiKey,
    'Content-Type': 'application/json',
    Accept: 'application/json',
  },
  body: json({ From: FROM, To: RCPT(0), Subject: SUBJECT, TextBody: TEXT, HtmlBody: HTML }),
});
const postmarkTaken = (body: string) =>
  (JSON.parse(body) as { ErrorCode?: number }).ErrorCode === 0 ? 1 : 0;

const recipients = Array.from({ length: BATCH }, (_, i) => RCPT(i));

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'mailgun',
    api: 'Mailgun',
    kind: 'single',
    endpoint: `POST /v3/${DOMAIN}/messages (multipart)`,
    messagesPerRequest: 1,
    recipientsPerMessage: 1,
    request: (key) => mailgunSingle(key, []),
    taken: all(1),
    meanwhile: 'delivered',
  },
  {
    name: 'mailgun-testmode',
    api: 'Mailgun',
    kind: 'single',
    endpoint: `POST /v3/${DOMAIN}/messages (multipart), o:testmode: accepted and recorded, not delivered`,
    messagesPerRequest: 1,
    recipientsPerMessage: 1,
    request: (key) => mailgunSingle(key, [['o:testmode', 'yes']]),
    taken: all(1),
    meanwhile: 'test mode',
  },
  {
    name: 'sendgrid',
    api: 'SendGrid',
    kind: 'single',
    endpoint: 'POST /v3/mail/send (JSON)',
    messagesPerRequest: 1,
    recipientsPerMessage: 1,
    request: (key) => sendgridSingle(key, {}),
    taken: all(1),
    meanwhile: 'delivered',
  },
  {
    name: 'sendgrid-sandbox',
    api: 'SendGrid',
    kind: 'single',
    endpoint: 'POST /v3/mail/send (JSON), sandbox_mode: accepted and recorded, not delivered',
    messagesPerRequest: 1,
    recipientsPerMessage: 1,
    request: (key) => sendgridSingle(key, { mail_settings: { sandbox_mode: { enable: true } } }),
    taken: all(1),
    meanwhile: 'test mode',
  },
  {
    name: 'postmark',
    api: 'Postmark',
    kind: 'single',
    endpoint: 'POST /email (JSON)',
    messagesPerRequest: 1,
    recipientsPerMessage: 1,
    request: postmarkSingle,
    taken: postmarkTaken,
    meanwhile: 'delivered',
  },
  {
    name: 'postmark-held',
    api: 'Postmark',
    kind: 'single',
    endpoint: 'POST /email (JSON), delivery held: the route leads to a tarpit',
    messagesPerRequest: 1,
    recipientsPerMessage: 1,
    request: postmarkSingle,
    taken: postmarkTaken,
    meanwhile: 'held',
  },
  {
    name: 'mailgun-batch',
    api: 'Mailgun',
    kind: 'batch',
    endpoint: `POST /v3/${DOMAIN}/messages, ${BATCH} to + recipient-variables`,
    messagesPerRequest: BATCH,
    recipientsPerMessage: 1,
    request: (key) =>
      mailgunForm(
        [
          ['from', FROM],
          ...recipients.map((r) => ['to', r] as const),
          [
            'recipient-variables',
            JSON.stringify(
              Object.fromEntries(recipients.map((r, i) => [r, { name: `Customer ${i}`, id: i }])),
            ),
          ],
          ['subject', SUBJECT],
          ['text', TEXT_OF('%recipient.name%')],
          ['html', HTML_OF('%recipient.name%')],
        ],
        key,
      ),
    taken: all(BATCH),
    meanwhile: 'delivered',
  },
  {
    name: 'sendgrid-batch',
    api: 'SendGrid',
    kind: 'batch',
    endpoint: `POST /v3/mail/send, ${BATCH} personalizations`,
    messagesPerRequest: BATCH,
    recipientsPerMessage: 1,
    request: (key) => ({
      path: '/v3/mail/send',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: json({
        personalizations: recipients.map((r, i) => ({
          to: [{ email: r }],
          substitutions: { '-name-': `Customer ${i}` },
        })),
        from: { email: FROM_ADDRESS, name: 'Shop' },
        subject: SUBJECT,
        content: [
          { type: 'text/plain', value: TEXT_OF('-name-') },
          { type: 'text/html', value: HTML_OF('-name-') },
        ],
      }),
    }),
    taken: all(BATCH),
    meanwhile: 'delivered',
  },
  {
    name: 'postmark-batch',
    api: 'Postmark',
    kind: 'batch',
    endpoint: 'POST /email/batch, 500 messages × 2 recipients',
    messagesPerRequest: BATCH / 2,
    recipientsPerMessage: 2,
    request: (key) => ({
      path: '/email/batch',
      headers: {
        'X-Postmark-Server-Token': key,
        'Content-Type': 'application/json',
        Accept: 'application/json',
      },
      body: json(
        Array.from({ length: BATCH / 2 }, (_, i) => ({
          From: FROM,
          To: `${recipients[2 * i]}, ${recipients[2 * i + 1]}`,
          Subject: SUBJECT,
          TextBody: TEXT,
          HtmlBody: HTML,
        })),
      ),
    }),
    taken: (body) =>
      (JSON.parse(body) as Array<{ ErrorCode?: number }>).filter((r) => r.ErrorCode === 0).length,
    meanwhile: 'delivered',
  },
];

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
  duration: number;
  warmup: number;
  connections: number[];
  batchConnections: number;
  scenarios: string[];
  variants: Variant[];
  target: number;
  cpuProf?: string;
  json?: boolean;
}

const program = new Command('npm run bench:http --')
  .description(
    'Submissions/s through the Mailgun, SendGrid and Postmark HTTP APIs of a `mailtrail serve` ' +
      'process with durable acceptance (2xx only after the fsynced commit), while it delivers ' +
      `everything to a sink on ${SINK_HOST} (smtp-sink, else \`mailtrail sink\`): single ~2 KB ` +
      'text+html messages and 1,000-recipient batches, on a signed relay (sending domain ' +
      'onboarded: DKIM) and an unsigned one (credential only). Prints medians and min–max.',
  )
  .option('--runs <n>', 'measured runs of each scenario and variant', wholeNumber(1), 3)
  .option('--duration <s>', 'seconds per measured run', wholeNumber(1), 10)
  .option(
    '--warmup <s>',
    'seconds of unmeasured load on each fresh relay first (V8 needs several thousand messages to settle)',
    wholeNumber(0),
    10,
  )
  .addOption(
    new Option(
      '--connections <list>',
      'HTTP connections for single messages; several (32,64,96) are each measured',
    )
      .argParser((text) => text.split(',').map((n) => wholeNumber(1)(n.trim())))
      .default([32], '32'),
  )
  .option(
    '--batch-connections <n>',
    'HTTP connections for 1,000-recipient batches (each holds 1,000 messages in flight)',
    wholeNumber(1),
    4,
  )
  .addOption(
    new Option('--scenarios <list>', 'comma-separated: which scenarios (listed below)')
      .argParser(listOf(SCENARIOS.map((s) => s.name)))
      .default(
        SCENARIOS.map((s) => s.name),
        'all',
      ),
  )
  .addOption(
    new Option(
      '--variants <list>',
      'signed (sending domain onboarded: DKIM) and/or unsigned (credential only)',
    )
      .argParser(listOf(VARIANTS))
      .default([...VARIANTS], 'signed,unsigned'),
  )
  .option(
    '--target <n>',
    'single-message submissions/s each API should sustain (median, signed)',
    wholeNumber(1),
    2000,
  )
  .option(
    '--cpu-prof <dir>',
    'run the relay under node --cpu-prof (a profile per thread and measurement in DIR) and print its top frames',
  )
  .option('--json', 'print the results as JSON instead of a table')
  .addHelpText(
    'after',
    `
Scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(16)} ${s.api} ${s.endpoint}`).join('\n')}

A fresh relay (data dir copied from a template) serves each measurement: warm-up, then the
measured run, then a check that /status lists every recipient answered 2xx. Any non-2xx
answer, socket error, timeout or refused batch item is reported as a failure (exit code 1).
Examples:
  npm run bench:http -- --runs 3 --duration 10
  npm run bench:http -- --scenarios mailgun --variants signed --runs 1 --cpu-prof /tmp/prof`,
  );

// ---------------------------------------------------------------------------------------
// The sink and the relay.

interface Sink extends Route {
  readonly name: string;
  /** Messages received so far. */
  count(): number;
  stop(): void;
}

const hasSmtpSink = () => spawnSync('which', ['smtp-sink'], { stdio: 'ignore' }).status === 0;

const startSink = async (): Promise<Sink> => {
  const port = await freePort(SINK_HOST);
  if (hasSmtpSink()) {
    // smtp-sink flushes its counter promptly only on a terminal, so it gets one (as in
    // bench/support/targets.ts).
    const dir = mkdtempSync(join(tmpdir(), 'bench-http-sink-'));
    const out = join(dir, 'counter');
    const user = process.getuid?.() === 0 ? '-u nobody ' : '';
    const child = spawn('script', ['-qfc', `smtp-sink -c ${user}${SINK_HOST}:${port} 1024`, out], {
      stdio: 'ignore',
    });
    await waitForPort(port, SINK_HOST);
    return {
      name: 'smtp-sink',
      host: SINK_HOST,
      port,
      count: () => {
        const text = readFileSync(out, 'latin1');
        const last = text.lastIndexOf('mesg=');
        return last < 0 ? 0 : Number.parseInt(text.slice(last + 5), 10);
      },
      stop: () => {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const child = spawn(process.execPath, [BIN, 'sink', '--listen', `${SINK_HOST}:${port}`], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let lines = 0;
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const byte of chunk) if (byte === 0x0a) lines++;
  });
  await waitForPort(port, SINK_HOST);
  return {
    name: 'mailtrail sink',
    host: SINK_HOST,
    port,
    count: () => lines,
    stop: () => child.kill('SIGTERM'),
  };
};

interface Tarpit extends Route {
  /** From now on, connections are held: never greeted. */
  hold(): void;
  /**
   * From now on, every connection, held or new, is answered 421 and closed, so a relay that
   * is done can stop at once: its attempts under way end, and none waits on.
   */
  release(): void;
  stop(): void;
}

const CLOSING = '421 4.3.2 tarpit closing\r\n';

/** A receiving MX that takes connections and never greets, while it holds them. */
const startTarpit = async (): Promise<Tarpit> => {
  const held = new Set<Socket>();
  let holding = true;
  const server = createServer((socket) => {
    socket.on('error', () => {});
    if (!holding) {
      socket.end(CLOSING);
      return;
    }
    held.add(socket);
    socket.on('close', () => held.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, TARPIT_HOST, resolve);
  });
  const release = () => {
    holding = false;
    for (const socket of held) socket.end(CLOSING);
  };
  return {
    host: TARPIT_HOST,
    port: (server.address() as AddressInfo).port,
    hold: () => {
      holding = true;
    },
    release,
    stop: () => {
      release();
      server.close();
    },
  };
};

interface Template {
  readonly variant: Variant;
  readonly dataDir: string;
  readonly apiKey: string;
}

/** Where the relay sends all mail: the sink, or the tarpit. */
interface Route {
  readonly host: string;
  readonly port: number;
}

const relayConfig = (dataDir: string, smtpPort: number, httpPort: number, route: Route) =>
  [
    `dataDir: ${dataDir}`,
    'log: { level: warn }',
    `smtp: { listen: "${HOST}:${smtpPort}" }`,
    `http: { listen: "${HOST}:${httpPort}" }`,
    'bounces: { listen: null }',
    `routes: ${JSON.stringify({ '*': `[${route.host}]:${route.port}` })}`,
    // The greeting wait outlasts any run, so no delivery to the tarpit gives up (and
    // records a deferral) while the load runs.
    'delivery: { blockLocalAddresses: false, connectTimeout: 10m }',
    '',
  ].join('\n');

const cli = (config: string, ...args: string[]): string =>
  execFileSync(process.execPath, [BIN, ...args, '--config', config], {
    cwd: REPO,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    // A CLI call takes a second or two; one that hangs fails the bench instead of stalling it.
    timeout: 120_000,
  });

/** What an application team does first: a credential with an API key, the domain onboarded. */
const makeTemplate = async (root: string, variant: Variant, sink: Route): Promise<Template> => {
  const dir = join(root, `template-${variant}`);
  mkdirSync(dir);
  const config = join(dir, 'mailtrail.yaml');
  writeFileSync(config, relayConfig(join(dir, 'data'), 0, 0, sink));
  const credential = JSON.parse(
    cli(config, 'credentials', 'add', 'app', '--domain', DOMAIN, '--api-key', '--json'),
  ) as { apiKey?: string };
  if (!credential.apiKey) throw new Error('credentials add --api-key --json printed no apiKey');
  if (variant === 'signed') cli(config, 'domains', 'add', DOMAIN, '--credential', 'app', '--json');
  return { variant, dataDir: join(dir, 'data'), apiKey: credential.apiKey };
};

interface Relay {
  readonly url: string;
  readonly config: string;
  readonly pid: () => number | undefined;
  stop(): Promise<void>;
}

const startRelay = async (
  root: string,
  template: Template,
  route: Route,
  profileDir: string | null,
): Promise<Relay> => {
  const dir = mkdtempSync(join(root, 'relay-'));
  const dataDir = join(dir, 'data');
  cpSync(template.dataDir, dataDir, { recursive: true });
  const [smtpPort, httpPort] = [await freePort(), await freePort()];
  const config = join(dir, 'mailtrail.yaml');
  writeFileSync(config, relayConfig(dataDir, smtpPort, httpPort, route));
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
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
    await Promise.race([waitForPort(httpPort, HOST, 60_000), early]);
    listening = true;
  } catch (error) {
    child.kill('SIGKILL');
    await exited(child);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `http://${HOST}:${httpPort}`,
    config,
    pid: () => child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited(child);
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** A process's CPU time so far, all threads, in seconds (0 when it cannot be read). */
const cpuSeconds = (pid: number | undefined): number => (cpuMs(pid) ?? 0) / 1000;

/** Recipients the relay's read model lists, whatever their status. */
const recordedRecipients = async (relay: Relay): Promise<number> => {
  const res = await fetch(`${relay.url}/status`);
  const { recipients } = (await res.json()) as { recipients: Record<string, number> };
  return Object.values(recipients).reduce((a, b) => a + b, 0);
};

// ---------------------------------------------------------------------------------------
// Load.

interface LoadResult {
  readonly seconds: number;
  /** 2xx answers. */
  readonly ok: number;
  readonly messages: number;
  readonly recipients: number;
  /** Items of a 2xx batch answer that were not taken (Postmark's per-message errors). */
  readonly refused: number;
  readonly non2xx: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly timeouts: number;
  readonly p50: number;
  readonly p99: number;
  /** The first non-2xx answer or refused item, for the report. */
  readonly sample: string | null;
}

const load = async (
  relay: Relay,
  scenario: Scenario,
  apiKey: string,
  how: { readonly duration: number } | { readonly amount: number },
  connections: number,
): Promise<LoadResult> => {
  const request = scenario.request(apiKey);
  let ok = 0;
  let messages = 0;
  let refused = 0;
  let sample: string | null = null;
  let lastAnswer = 0;
  const started = performance.now();
  const result = await autocannon({
    url: relay.url,
    connections,
    ...how,
    timeout: scenario.kind === 'batch' ? 300 : 30,
    requests: [
      {
        method: 'POST',
        ...request,
        onResponse: (status, body) => {
          if (status < 200 || status > 299) {
            sample ??= `${status} ${body.slice(0, 400)}`;
            return;
          }
          lastAnswer = performance.now();
          ok++;
          let taken = 0;
          try {
            taken = scenario.taken(body);
          } catch {
            // An answer that does not parse took nothing we can count.
          }
          messages += taken;
          if (taken < scenario.messagesPerRequest) {
            refused += scenario.messagesPerRequest - taken;
            sample ??= `${status} ${body.slice(0, 400)}`;
          }
        },
      },
    ],
  });
  // A fixed amount is timed to its last answer (autocannon stops on a 1 s tick after it);
  // a fixed duration is autocannon's own, the span its answers were counted over.
  const seconds =
    'amount' in how && lastAnswer > 0 ? (lastAnswer - started) / 1000 : result.duration;
  const non2xx = Object.fromEntries(
    Object.entries(result.statusCodeStats)
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, s]) => [code, s.count]),
  );
  return {
    seconds,
    ok,
    messages,
    recipients: messages * scenario.recipientsPerMessage,
    refused,
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    sample,
  };
};

interface Measurement {
  readonly scenario: string;
  readonly variant: Variant;
  readonly run: number;
  /** HTTP connections kept busy. */
  readonly connections: number;
  readonly seconds: number;
  readonly requestsPerSec: number;
  readonly messagesPerSec: number;
  readonly recipientsPerSec: number;
  readonly deliveredPerSec: number;
  /** The relay process's CPU time (all threads, delivery included) per message stored. */
  readonly relayCpuMsPerMessage: number | null;
  /** The same by thread (main, mt-log-writer, mt-delivery, mt-webhooks, other), ms a message. */
  readonly relayCpuByThread: Readonly<Record<string, number>>;
  /** This process's CPU (autocannon), in % of one core. */
  readonly loadGeneratorCpuPct: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly peakRssMb: number | null;
  readonly failures: string[];
}

const problems = (what: string, r: LoadResult): string[] => [
  ...Object.entries(r.non2xx).map(([code, n]) => `${what}: ${n} × HTTP ${code}`),
  ...(r.errors - r.timeouts > 0 ? [`${what}: ${r.errors - r.timeouts} socket errors`] : []),
  ...(r.timeouts > 0 ? [`${what}: ${r.timeouts} timeouts`] : []),
  ...(r.refused > 0 ? [`${what}: ${r.refused} batch items refused`] : []),
  ...(r.sample ? [`${what}: first failure: ${r.sample}`] : []),
];

const measure = async (
  o: Options,
  root: string,
  scenario: Scenario,
  template: Template,
  sink: Sink,
  tarpit: Tarpit,
  run: number,
  /** For single messages; batches use --batch-connections. */
  connections: number,
): Promise<Measurement> => {
  const profileDir = o.cpuProf
    ? join(o.cpuProf, `${scenario.name}-${template.variant}-x${connections}-${run}`)
    : null;
  const route = scenario.meanwhile === 'held' ? tarpit : sink;
  tarpit.hold();
  const relay = await startRelay(root, template, route, profileDir);
  const what = `${scenario.name} ${template.variant} ×${connections} run ${run}`;
  const failures: string[] = [];
  let answered = 0; // recipients answered 2xx on this relay, warm-up included
  try {
    let how: { readonly duration: number } | { readonly amount: number };
    if (scenario.kind === 'single') {
      if (o.warmup > 0) {
        const w = await load(relay, scenario, template.apiKey, { duration: o.warmup }, connections);
        answered += w.recipients;
        failures.push(...problems(`${what} (warm-up)`, w));
      }
      how = { duration: o.duration };
    } else {
      // One request per connection to gauge the pace, then --warmup seconds' worth, then
      // --duration seconds' worth (at the warm pace), each run to its last answer.
      const c = o.batchConnections;
      const probe = await load(relay, scenario, template.apiKey, { amount: c }, c);
      answered += probe.recipients;
      failures.push(...problems(`${what} (warm-up)`, probe));
      let pace = probe.ok / Math.max(probe.seconds, 0.001);
      if (o.warmup > 0) {
        const amount = Math.max(c, Math.round(pace * o.warmup));
        const w = await load(relay, scenario, template.apiKey, { amount }, c);
        answered += w.recipients;
        failures.push(...problems(`${what} (warm-up)`, w));
        if (w.ok > 0) pace = w.ok / w.seconds;
      }
      how = { amount: Math.max(c, Math.ceil((pace * o.duration) / c) * c) };
    }
    const sinkBefore = sink.count();
    const relayBefore = cpuSeconds(relay.pid());
    const threadsBefore = threadCpuMs(relay.pid());
    const ownBefore = process.cpuUsage();
    const measured = await load(relay, scenario, template.apiKey, how, connections);
    const own = process.cpuUsage(ownBefore);
    const relayCpu = cpuSeconds(relay.pid()) - relayBefore;
    const byThread = threadCpuSince(threadsBefore, threadCpuMs(relay.pid()));
    const delivered = sink.count() - sinkBefore;
    answered += measured.recipients;
    failures.push(...problems(what, measured));
    // Every recipient answered 2xx must be in the log (the read model may lag a little).
    const deadline = Date.now() + 60_000;
    let recorded = await recordedRecipients(relay);
    while (recorded < answered && Date.now() < deadline) {
      await sleep(250);
      recorded = await recordedRecipients(relay);
    }
    if (recorded < answered)
      failures.push(`${what}: /status lists ${recorded} recipients, ${answered} were answered 2xx`);
    const s = Math.max(measured.seconds, 0.001);
    return {
      scenario: scenario.name,
      variant: template.variant,
      run,
      connections,
      seconds: Number(measured.seconds.toFixed(2)),
      requestsPerSec: measured.ok / s,
      messagesPerSec: measured.messages / s,
      recipientsPerSec: measured.recipients / s,
      deliveredPerSec: delivered / s,
      relayCpuMsPerMessage: measured.messages ? (1000 * relayCpu) / measured.messages : null,
      relayCpuByThread: Object.fromEntries(
        [...byThread].map(([name, ms]) => [name, ms / Math.max(measured.messages, 1)]),
      ),
      loadGeneratorCpuPct: (own.user + own.system) / 1e4 / s,
      latencyP50Ms: measured.p50,
      latencyP99Ms: measured.p99,
      peakRssMb: peakRssMb(relay.pid()),
      failures,
    };
  } finally {
    tarpit.release();
    await relay.stop();
    if (profileDir) printProfiles(profileDir, what);
  }
};

/** One message through the Postmark API: were its signatures made, did it reach the sink? */
const preflight = async (root: string, template: Template, sink: Sink): Promise<number> => {
  const relay = await startRelay(root, template, sink, null);
  try {
    const postmark = SCENARIOS.find((s) => s.name === 'postmark') as Scenario;
    const { path, headers, body } = postmark.request(template.apiKey);
    const res = await fetch(`${relay.url}${path}`, { method: 'POST', headers, body });
    const answer = (await res.json()) as { MessageID?: string; ErrorCode?: number };
    if (res.status !== 200 || answer.ErrorCode !== 0 || !answer.MessageID)
      throw new Error(`preflight (${template.variant}): ${res.status} ${JSON.stringify(answer)}`);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const shown = JSON.parse(
        cli(relay.config, 'messages', 'show', answer.MessageID, '--json'),
      ) as {
        events: Array<{ type: string; data: { size?: number } }>;
      };
      const types = shown.events.map((e) => e.type);
      if (types.includes('MessageDelivered')) {
        const signed = types.includes('MessageSigned');
        if (signed !== (template.variant === 'signed'))
          throw new Error(
            `preflight (${template.variant}): the message was ${signed ? '' : 'not '}DKIM-signed`,
          );
        return shown.events.find((e) => e.type === 'MessageAccepted')?.data.size ?? 0;
      }
      if (Date.now() > deadline)
        throw new Error(`preflight (${template.variant}): not delivered to the sink: ${types}`);
      await sleep(200);
    }
  } finally {
    await relay.stop();
  }
};

// ---------------------------------------------------------------------------------------
// CPU profiles: where the relay's threads spent their time.

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** A frame's module: the source file under src/, or the npm package. */
const moduleOf = (url: string): string => {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  return pkg ? `npm:${pkg[1]}` : url.replace(`file://${REPO}/`, '');
};

const top = (m: ReadonlyMap<string, number>, n: number) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, n);

/**
 * Where each relay thread spent its time, from `--cpu-prof` profiles. V8 samples wall
 * time: a thread waiting for a core counts in the frame it was interrupted in. tsx-compiled
 * sources show as anonymous frames on line 1, so time is given per module: each sample
 * goes to the innermost frame that is in a source file or a package (Node's internals
 * count for their caller), then the busiest named functions.
 */
const printProfiles = (dir: string, what: string) => {
  if (!existsSync(dir)) return;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const byModule = new Map<string, number>();
    const byFunction = new Map<string, number>();
    let busy = 0;
    let total = 0;
    profile.samples.forEach((id, i) => {
      const dt = profile.timeDeltas[i + 1] ?? 0;
      total += dt;
      const frame = nodes.get(id)?.callFrame;
      if (!frame || frame.functionName === '(idle)') return;
      busy += dt;
      let owner: string | null = null;
      for (
        let at: number | undefined = id;
        at !== undefined && owner === null;
        at = parent.get(at)
      ) {
        const url = nodes.get(at)?.callFrame.url ?? '';
        if (url.startsWith('file://')) owner = moduleOf(url);
      }
      const mod = owner ?? (frame.url ? 'node internals' : frame.functionName);
      byModule.set(mod, (byModule.get(mod) ?? 0) + dt);
      if (frame.functionName && frame.lineNumber > 0) {
        const fn = `${frame.functionName} ${moduleOf(frame.url)}:${frame.lineNumber + 1}`;
        byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt);
      }
    });
    if (busy < 500_000) continue; // the module loader's threads and other bystanders
    const tid = file.split('.')[4];
    const modules = [...byModule.keys()].join(' ');
    const role =
      tid === '0'
        ? 'main: HTTP, MIME, acceptance'
        : modules.includes('group-commit')
          ? 'event-log writer'
          : modules.includes('projections/') || modules.includes('delivery')
            ? 'delivery and projections'
            : 'worker';
    const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
    log(
      `\n${what}: relay thread ${tid} (${role}), ${(busy / 1e6).toFixed(1)} s busy of ` +
        `${(total / 1e6).toFixed(1)} s; by module:`,
    );
    for (const [key, us] of top(byModule, 14)) log(`  ${pct(us)}  ${key}`);
    log('  busiest named functions (self):');
    for (const [key, us] of top(byFunction, 8)) log(`  ${pct(us)}  ${key}`);
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
const round = (n: number) => Math.round(n);
/** Whole numbers, but one decimal below 10 (a batch run's requests/s). */
const num = (n: number) => (Math.abs(n) < 10 ? n.toFixed(1) : String(Math.round(n)));

const main = async () => {
  const o = program.parse().opts<Options>();
  const scenarios = SCENARIOS.filter((s) => o.scenarios.includes(s.name));
  const variants = VARIANTS.filter((v) => o.variants.includes(v));
  if (o.cpuProf) mkdirSync(o.cpuProf, { recursive: true });
  const root = mkdtempSync(join(tmpdir(), 'bench-http-'));
  const sink = await startSink();
  const tarpit = await startTarpit();
  const measurements: Measurement[] = [];
  const aborted: string[] = [];
  const composedSize: Partial<Record<Variant, number>> = {};
  const connectionsOf = (scenario: Scenario): readonly number[] =>
    scenario.kind === 'single' ? o.connections : [o.batchConnections];
  try {
    log(`sink: ${sink.name} on ${SINK_HOST}:${sink.port}`);
    const templates = new Map<Variant, Template>();
    for (const v of variants) {
      templates.set(v, await makeTemplate(root, v, sink));
      composedSize[v] = await preflight(root, templates.get(v) as Template, sink);
      log(`${v}: credential and API key made through the CLI; a test message went through`);
    }
    const perMeasurement = o.duration + o.warmup + 10;
    const cells = scenarios.reduce((n, s) => n + connectionsOf(s).length, 0);
    log(
      `${o.runs} runs × ${cells} scenario and connection counts × ${variants.length} ` +
        `variants, about ${Math.ceil((o.runs * cells * variants.length * perMeasurement) / 60)} min`,
    );
    for (let run = 1; run <= o.runs; run++)
      // Variants take turns, and swap who goes first each run, so noise hits both alike.
      for (const scenario of scenarios)
        for (const connections of connectionsOf(scenario))
          for (const v of run % 2 ? variants : [...variants].reverse()) {
            log(`${scenario.name}, ${v}, ${connections} connections, run ${run}/${o.runs}…`);
            let m: Measurement;
            try {
              m = await measure(
                o,
                root,
                scenario,
                templates.get(v) as Template,
                sink,
                tarpit,
                run,
                connections,
              );
            } catch (error) {
              // One broken measurement (a relay that would not start) does not end the bench.
              const what = `${scenario.name} ${v} ×${connections} run ${run}: ${String(error)}`;
              aborted.push(what);
              log(`  failed: ${what}`);
              continue;
            }
            measurements.push(m);
            log(
              `  ${num(m.requestsPerSec)} requests/s, ${num(m.messagesPerSec)} messages/s, ` +
                `p50 ${m.latencyP50Ms} ms, ${num(m.deliveredPerSec)} delivered/s meanwhile, ` +
                `relay CPU ${m.relayCpuMsPerMessage?.toFixed(2)} ms/message (` +
                Object.entries(m.relayCpuByThread)
                  .sort((a, b) => b[1] - a[1])
                  .map(([name, ms]) => `${name} ${ms.toFixed(2)}`)
                  .join(', ') +
                '), ' +
                `autocannon ${num(m.loadGeneratorCpuPct)}% of a core` +
                (m.failures.length ? `, ${m.failures.length} failures` : ''),
            );
          }
  } finally {
    sink.stop();
    tarpit.stop();
    rmSync(root, { recursive: true, force: true });
  }

  const rows = scenarios.flatMap((scenario) =>
    connectionsOf(scenario).flatMap((connections) =>
      variants.flatMap((variant) => {
        const ms = measurements.filter(
          (m) =>
            m.scenario === scenario.name && m.variant === variant && m.connections === connections,
        );
        if (ms.length === 0) return [];
        const requests = stats(ms.map((m) => m.requestsPerSec));
        return {
          scenario: scenario.name,
          api: scenario.api,
          kind: scenario.kind,
          endpoint: scenario.endpoint,
          meanwhile: scenario.meanwhile,
          variant,
          connections,
          requestsPerSec: requests,
          messagesPerSec: stats(ms.map((m) => m.messagesPerSec)),
          recipientsPerSec: stats(ms.map((m) => m.recipientsPerSec)),
          deliveredPerSec: median(ms.map((m) => m.deliveredPerSec)),
          latencyP50Ms: median(ms.map((m) => m.latencyP50Ms)),
          latencyP99Ms: median(ms.map((m) => m.latencyP99Ms)),
          relayCpuMsPerMessage: median(ms.map((m) => m.relayCpuMsPerMessage ?? Number.NaN)),
          relayCpuByThread: Object.fromEntries(
            Object.keys(ms[0]?.relayCpuByThread ?? {}).map((name) => [
              name,
              median(ms.map((m) => m.relayCpuByThread[name] ?? 0)),
            ]),
          ),
          loadGeneratorCpuPct: median(ms.map((m) => m.loadGeneratorCpuPct)),
          metTarget: scenario.kind === 'single' ? requests.median >= o.target : null,
          failures: ms.flatMap((m) => m.failures),
          runs: ms,
        };
      }),
    ),
  );
  const failures = [...aborted, ...rows.flatMap((r) => r.failures)];
  const settings = {
    runs: o.runs,
    durationSec: o.duration,
    warmupSec: o.warmup,
    connections: o.connections,
    batchConnections: o.batchConnections,
    target: o.target,
    sink: sink.name,
    composedMessageBytes: composedSize,
  };
  if (o.json) {
    // Rates to two decimals: more is noise.
    const twoDecimals = (_key: string, v: unknown) =>
      typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(2)) : v;
    process.stdout.write(
      `${JSON.stringify({ ...settings, results: rows, failures }, twoDecimals, 2)}\n`,
    );
  } else {
    const range = (s: { median: number; min: number; max: number }) =>
      `${num(s.median)} (${num(s.min)}–${num(s.max)})`;
    const table = new Table({
      head: [
        'API',
        'scenario',
        'DKIM',
        'connections',
        'requests/s',
        'messages/s',
        'recipients/s',
        'p50 / p99 ms',
        'delivered/s',
        'relay CPU ms/msg',
        `≥ ${o.target}/s`,
        'failures',
      ],
      style: { head: [], border: [] },
    });
    for (const r of rows)
      table.push([
        r.api,
        r.kind === 'single' ? r.scenario : `${r.scenario} ×${BATCH}`,
        r.variant,
        r.connections,
        range(r.requestsPerSec),
        range(r.messagesPerSec),
        num(r.recipientsPerSec.median),
        `${r.latencyP50Ms} / ${r.latencyP99Ms}`,
        num(r.deliveredPerSec),
        r.relayCpuMsPerMessage.toFixed(2),
        r.metTarget === null
          ? ''
          : r.metTarget
            ? 'yes'
            : `no (${round((100 * r.requestsPerSec.median) / o.target)}%)`,
        r.failures.filter((f) => !f.includes('first failure')).length || 'none',
      ]);
    const verdicts = [...new Set(scenarios.filter((s) => s.kind === 'single').map((s) => s.api))]
      .map((api) => {
        const single = rows.filter((r) => r.api === api && r.kind === 'single');
        const parts = single.map(
          (r) => `${num(r.requestsPerSec.median)}/s ${r.variant} ×${r.connections}`,
        );
        const signed = single.filter((r) => r.variant === 'signed');
        const metAt = signed.filter((r) => r.metTarget).map((r) => r.connections);
        const verdict =
          signed.length === 0
            ? 'not measured signed'
            : metAt.length > 0
              ? `met (${metAt.join(', ')} connections)`
              : 'NOT met';
        return `  ${api}: ${verdict} (${parts.join(', ')})`;
      })
      .join('\n');
    // The same target read on what the front door alone takes, for each API and variant.
    const alone = [...new Set(rows.map((r) => r.api))]
      .map((api) => {
        const measured = rows.filter(
          (r) => r.api === api && r.kind === 'single' && r.meanwhile !== 'delivered',
        );
        return measured.length === 0
          ? null
          : `  ${api} (${[...new Set(measured.map((r) => r.scenario))].join(', ')}): ` +
              measured
                .map(
                  (r) =>
                    `${num(r.requestsPerSec.median)}/s ${r.variant} ×${r.connections} ` +
                    (r.metTarget ? 'met' : 'not met'),
                )
                .join(', ');
      })
      .filter((line) => line !== null);
    process.stdout.write(
      `${table.toString()}\n` +
        `Medians (min–max) of ${o.runs} runs of ${o.duration} s after ${o.warmup} s warm-up, ` +
        `each on a fresh relay; single messages over ${o.connections.join(' and ')} connections, batches over ` +
        `${o.batchConnections} (a batch run is a fixed number of requests timed to the last answer).\n` +
        `Only 2xx count, each answered after its fsynced commit. messages/s: messages stored; ` +
        `recipients/s: their recipients (Postmark batch: 2 a message); delivered/s: messages the ` +
        `sink (${sink.name}, ${SINK_HOST}) received meanwhile; relay CPU: the relay process's ` +
        `CPU time (all threads, delivery included) per message stored.\n` +
        variants
          .map(
            (v) =>
              `${v}: ${VARIANT_LABEL[v]}; a single message is ${composedSize[v]} B composed.\n`,
          )
          .join('') +
        `Target, ${o.target} single-message submissions/s with durable acceptance (signed):\n${verdicts}\n` +
        (alone.length > 0
          ? `The same, acceptance alone (test modes, or delivery held), by variant:\n${alone.join('\n')}\n`
          : ''),
    );
  }
  if (failures.length > 0) {
    log(`\nBENCH FAILURES (${failures.length}):\n${failures.map((f) => `  ${f}`).join('\n')}`);
    process.exitCode = 1;
  }
};

await main();
