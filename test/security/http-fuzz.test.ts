/**
 * The three HTTP sending APIs fed bad and hostile input over real HTTP: each refusal comes in
 * its provider's own status and error shape and queues nothing; CR or LF in any field that
 * reaches a header is refused, or folded so that no header is added; oversize bodies get the
 * provider's 413. Then a seeded fuzz loop throws malformed payloads at every endpoint, with
 * and without a key: no 5xx, every answer in the provider's shape, nothing stored that was
 * not acknowledged, and the relay still serves and sends afterwards.
 *
 * Replay a fuzz failure with FUZZ_SEED=<the seed in the test name>.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { MessageAccepted } from '../../src/domain/message/events.js';
import { type ApiRelay, startApiRelay } from '../support/api-relay.js';
import { acceptedMessages } from '../support/fixtures.js';

type Accepted = MessageAccepted['data'];
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const SEED =
  process.env.FUZZ_SEED === undefined ? randomInt(2 ** 31) : Number(process.env.FUZZ_SEED);
if (!Number.isSafeInteger(SEED)) throw new Error(`FUZZ_SEED must be an integer, not ${SEED}`);
const FUZZ_PER_ENDPOINT = 150;
const FUZZ_WIDTH = 8;

// Mailgun's limit is 52.4 MiB, the largest of the three: one body this size is over them all.
const OVERSIZE = Math.ceil(53.5 * 1024 * 1024);

/** A run of blanks in attachment content: refused in milliseconds, or in seconds squared. */
const BLANKS = 200_000;

const EVIL = 'evil@attacker.test';
/** Each way a line can end, for a field that might be written into a header as is. */
const BREAKS = { CRLF: '\r\n', LF: '\n', CR: '\r' } as const;
const injection = (brk: string): string => `x${brk}Bcc: ${EVIL}${brk}X-Injected: yes`;

interface Reply {
  readonly status: number;
  readonly type: string;
  readonly headers: Headers;
  readonly text: string;
  /** The body as JSON; undefined when it is not JSON. */
  readonly json: unknown;
}

type Body = string | Uint8Array;

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A form field as Mailgun reads it; names may repeat. */
type Field = readonly [string, string];
interface FilePart {
  readonly name: string;
  readonly filename: string;
  readonly type: string;
  readonly content: Buffer;
}

const urlencoded = (fields: readonly Field[]): string =>
  new URLSearchParams(fields.map(([n, v]): [string, string] => [n, v])).toString();

// Quoted as browsers do it, so a name cannot end the part's header early.
const quoted = (name: string): string =>
  name.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

const multipart = (
  fields: readonly Field[],
  files: readonly FilePart[] = [],
  boundary = 'fuzz-boundary',
): Buffer =>
  Buffer.concat([
    ...fields.map(([name, value]) =>
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"\r\n\r\n${value}\r\n`,
      ),
    ),
    ...files.flatMap((f) => [
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(f.name)}"; filename="${quoted(f.filename)}"\r\nContent-Type: ${f.type}\r\n\r\n`,
      ),
      f.content,
      Buffer.from('\r\n'),
    ]),
    Buffer.from(`--${boundary}--\r\n`),
  ]);

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const withFields = (
  base: readonly Field[],
  changes: Readonly<Record<string, string | readonly string[] | undefined>>,
): Field[] => [
  ...base.filter(([name]) => !(name in changes)),
  ...Object.entries(changes).flatMap(([name, value]) =>
    value === undefined ? [] : [value].flat().map((v) => [name, v] as const),
  ),
];

const MAILGUN_FIELDS: readonly Field[] = [
  ['from', 'Shop <team@shop.test>'],
  ['to', 'fz@example.com'],
  ['subject', 'Hello'],
  ['text', 'hello'],
];

const sendgridMessage = (to = 'fz@example.com') => ({
  personalizations: [{ to: [{ email: to }] }],
  from: { email: 'team@shop.test', name: 'Shop' },
  subject: 'Hello',
  content: [{ type: 'text/plain', value: 'hello' }],
});

const postmarkMessage = (to = 'fz@example.com') => ({
  From: 'Shop <team@shop.test>',
  To: to,
  Subject: 'Hello',
  TextBody: 'hello',
});

const addresses = (n: number, prefix: string): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${i}@example.com`);

// ---------------------------------------------------------------------------------------
// The providers' shapes, as predicates (the fuzz loop) and as assertions (the named cases).

/** Why a reply is not in the provider's shape; null when it is. */
type ShapeCheck = (reply: Reply) => string | null;

const keysAre = (body: unknown, keys: readonly string[]): boolean =>
  isObject(body) && Object.keys(body).sort().join() === [...keys].sort().join();

const mailgunShape: ShapeCheck = (r) => {
  if (r.status === 200)
    return keysAre(r.json, ['id', 'message']) &&
      isObject(r.json) &&
      typeof r.json.id === 'string' &&
      r.json.message === 'Queued. Thank you.'
      ? null
      : 'a 200 without {id, message: "Queued. Thank you."}';
  if (r.status === 401)
    return r.text === 'Forbidden' && r.type.startsWith('text/plain')
      ? null
      : '401 but not a plain-text Forbidden';
  if (![400, 404, 413].includes(r.status)) return `status ${r.status} is not Mailgun's`;
  return keysAre(r.json, ['message']) && isObject(r.json) && typeof r.json.message === 'string'
    ? null
    : 'an error that is not {message}';
};

const sendgridErrorShape = (body: unknown): boolean =>
  keysAre(body, ['errors']) &&
  isObject(body) &&
  Array.isArray(body.errors) &&
  body.errors.length > 0 &&
  body.errors.every(
    (e) =>
      isObject(e) &&
      typeof e.message === 'string' &&
      (typeof e.field === 'string' || e.field === null) &&
      'help' in e,
  );

const sendgridShape: ShapeCheck = (r) => {
  if (r.status === 202 || r.status === 200)
    return r.text === '' && (r.headers.get('x-message-id') ?? '') !== ''
      ? null
      : 'a success without an empty body and an X-Message-Id';
  if (![400, 401, 403, 413, 415].includes(r.status)) return `status ${r.status} is not SendGrid's`;
  return sendgridErrorShape(r.json)
    ? null
    : 'an error that is not {errors: [{message, field, help}]}';
};

const postmarkErrorShape = (body: unknown): boolean =>
  keysAre(body, ['ErrorCode', 'Message']) &&
  isObject(body) &&
  typeof body.ErrorCode === 'number' &&
  body.ErrorCode !== 0 &&
  typeof body.Message === 'string';

const postmarkSuccessShape = (body: unknown): boolean =>
  isObject(body) &&
  body.ErrorCode === 0 &&
  typeof body.Message === 'string' &&
  typeof body.MessageID === 'string' &&
  typeof body.SubmittedAt === 'string';

const postmarkShape: ShapeCheck = (r) => {
  if (r.status === 200)
    return postmarkSuccessShape(r.json) ? null : 'a 200 without ErrorCode 0 and a MessageID';
  if (![401, 413, 415, 422].includes(r.status)) return `status ${r.status} is not Postmark's`;
  return postmarkErrorShape(r.json) ? null : 'an error that is not {ErrorCode, Message}';
};

const postmarkBatchShape: ShapeCheck = (r) => {
  if (r.status !== 200) return postmarkShape(r);
  return Array.isArray(r.json) &&
    r.json.every((item) => postmarkSuccessShape(item) || postmarkErrorShape(item))
    ? null
    : 'a 200 that is not an array of results';
};

const mailgunError = (reply: Reply, status: number, message?: string | RegExp): void => {
  assert.equal(reply.status, status, reply.text);
  assert.match(reply.type, /^application\/json/);
  assert.ok(keysAre(reply.json, ['message']), `{message} only: ${reply.text}`);
  const text = (reply.json as { message: unknown }).message;
  assert.equal(typeof text, 'string');
  if (typeof message === 'string') assert.equal(text, message);
  else if (message) assert.match(text as string, message);
};

const mailgunForbidden = (reply: Reply): void => {
  assert.equal(reply.status, 401, reply.text);
  assert.match(reply.type, /^text\/plain/);
  assert.equal(reply.text, 'Forbidden');
};

const sendgridError = (
  reply: Reply,
  status: number,
  expect: { readonly field?: string | null; readonly message?: RegExp } = {},
): void => {
  assert.equal(reply.status, status, reply.text);
  assert.ok(sendgridErrorShape(reply.json), `errors shape: ${reply.text}`);
  const errors = (reply.json as { errors: Array<{ message: string; field: string | null }> })
    .errors;
  if (expect.field !== undefined)
    assert.ok(
      errors.some((e) => e.field === expect.field),
      `an error on ${expect.field}: ${reply.text}`,
    );
  if (expect.message)
    assert.ok(
      errors.some((e) => expect.message?.test(e.message)),
      `${expect.message}: ${reply.text}`,
    );
};

const postmarkError = (reply: Reply, status: number, code: number, message?: RegExp): void => {
  assert.equal(reply.status, status, reply.text);
  assert.ok(postmarkErrorShape(reply.json), `{ErrorCode, Message}: ${reply.text}`);
  assert.equal((reply.json as { ErrorCode: number }).ErrorCode, code, reply.text);
  if (message) assert.match((reply.json as { Message: string }).Message, message);
};

// ---------------------------------------------------------------------------------------
// A small seeded generator of hostile values.

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
const prng = (seed: number) => {
  let state = seed >>> 0;
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const SAMPLES = [
  '',
  ' ',
  'a',
  'team@shop.test',
  'Shop <team@shop.test>',
  'fz@example.com',
  'a@b',
  '@',
  '<>',
  '"q r"@example.com',
  'a@[127.0.0.1]',
  '@relay.test:a@example.com',
  'ann@exa mple.com',
  'a@example.com, b@example.com',
  injection('\r\n'),
  '\0',
  '%recipient.x%',
  '%recipient.toString%',
  '__proto__',
  'constructor',
  'toString',
  'yes',
  'true',
  '-1',
  '1e309',
  'NaN',
  'Thu, 13 Oct 2011 18:02:00 +0000',
  '31 Feb 2024 25:61',
  '999999999999',
  'text/plain',
  'text/html',
  'inline',
  'cid:x',
  'd-123',
  'Message-ID',
  'X-Mailtrail-Pool',
  '=?utf-8?q?x?=',
  '\ud800',
  '\udfff',
  '\u2028',
  '\u0085',
  'ñandú',
  '日本語',
  '🙂',
  'مرحبا',
  'e\u0301',
];

// Code point ranges to draw from: ASCII, controls, Latin-1, the BMP, lone surrogates, astral.
const RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x20, 0x7e],
  [0x20, 0x7e],
  [0x00, 0x1f],
  [0x80, 0xff],
  [0x100, 0xd7ff],
  [0xd800, 0xdfff],
  [0x1f300, 0x1faff],
];

const MAILGUN_NAMES = [
  'from',
  'to',
  'cc',
  'bcc',
  'subject',
  'text',
  'html',
  'amp-html',
  'o:tag',
  'o:deliverytime',
  'o:testmode',
  'o:tracking',
  'o:require-tls',
  'h:X-Custom',
  'h:Reply-To',
  'h:Message-Id',
  'h:X-Mailgun-Sending-Ip-Pool',
  'v:order',
  'recipient-variables',
  'template',
  't:variables',
];

const createFuzzer = (seed: number) => {
  const next = prng(seed);
  const int = (n: number): number => Math.floor(next() * n);
  const chance = (p: number): boolean => next() < p;
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;

  const chars = (length: number): string => {
    let out = '';
    for (let i = 0; i < length; i++) {
      const [lo, hi] = pick(RANGES);
      out += String.fromCodePoint(lo + int(hi - lo + 1));
    }
    return out;
  };

  const string = (): string => {
    const roll = next();
    if (roll < 0.35) return pick(SAMPLES);
    if (roll < 0.6) return chars(int(40));
    if (roll < 0.72) return `${chars(1 + int(8))}@${pick(['example.com', 'shop.test', chars(5)])}`;
    if (roll < 0.84) return pick(SAMPLES) + string();
    // Large, but not so large that 900 requests stop being quick.
    if (roll < 0.88) return pick(['x', 'é', '\0', '\r\n', '🙂']).repeat(10_000 + int(150_000));
    return String(pick([0, -1, 2 ** 53, 1e308, 0.5, int(1e9)]));
  };

  const number = (): number => pick([0, -0, 1, -1, 0.5, 2 ** 31, 2 ** 53 + 2, 1e308, -1e308]);

  const json = (keys: readonly string[], depth = 0): Json => {
    const roll = next();
    if (depth > 3 || roll < 0.15) return pick([null, true, false]);
    if (roll < 0.3) return number();
    if (roll < 0.6) return string();
    if (roll < 0.8) {
      // Now and then a long one, over every recipient and batch cap; of scalars, to stay small.
      const long = depth === 0 && chance(0.05);
      return Array.from({ length: long ? 1001 + int(200) : int(5) }, () =>
        json(keys, long ? 4 : depth + 1),
      );
    }
    return Object.fromEntries(
      Array.from({ length: int(6) }, () => [
        chance(0.6) ? pick(keys) : string(),
        json(keys, depth + 1),
      ]),
    );
  };

  const bytes = (max: number): Uint8Array => {
    const out = new Uint8Array(int(max));
    const printable = chance(0.5);
    for (let i = 0; i < out.length; i++) out[i] = printable ? 0x20 + int(0x5f) : int(256);
    return out;
  };

  /** A header value of visible ASCII: what fetch lets through. */
  const token = (max: number): string =>
    Array.from({ length: 1 + int(max) }, () => String.fromCharCode(0x21 + int(0x5e))).join('');

  return { int, chance, pick, string, json, bytes, token, next };
};

type Fuzzer = ReturnType<typeof createFuzzer>;

/** Every path into a JSON value, for mutating one field of a valid body. */
const pathsOf = (
  value: unknown,
  prefix: readonly (string | number)[] = [],
): (string | number)[][] =>
  typeof value !== 'object' || value === null
    ? []
    : Object.entries(value).flatMap(([k, v]) => {
        const key = Array.isArray(value) ? Number(k) : k;
        return [[...prefix, key], ...pathsOf(v, [...prefix, key])];
      });

/** The body with the value at one random path replaced by another type, or removed. */
const mutated = (f: Fuzzer, body: Json, keys: readonly string[]): Json => {
  const copy = structuredClone(body);
  const path = f.pick(pathsOf(copy));
  let parent = copy as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, Json>;
  const last = path.at(-1) as string | number;
  if (f.chance(0.15)) delete parent[last];
  else parent[last] = f.json(keys);
  if (f.chance(0.2)) (copy as Record<string, Json>)[f.pick(keys)] = f.json(keys);
  return copy;
};

const SENDGRID_KEYS = [
  'personalizations',
  'to',
  'cc',
  'bcc',
  'email',
  'name',
  'from',
  'subject',
  'content',
  'type',
  'value',
  'headers',
  'substitutions',
  'custom_args',
  'send_at',
  'attachments',
  'filename',
  'disposition',
  'content_id',
  'template_id',
  'categories',
  'reply_to',
  'reply_to_list',
  'ip_pool_name',
  'mail_settings',
  'sandbox_mode',
  'enable',
  'tracking_settings',
];

const POSTMARK_KEYS = [
  'From',
  'To',
  'Cc',
  'Bcc',
  'Subject',
  'Tag',
  'HtmlBody',
  'TextBody',
  'ReplyTo',
  'Headers',
  'Name',
  'Value',
  'TrackOpens',
  'TrackLinks',
  'Metadata',
  'Attachments',
  'Content',
  'ContentType',
  'ContentID',
  'MessageStream',
  'TemplateId',
];

const SENDGRID_FULL = {
  ...sendgridMessage(),
  personalizations: [
    {
      to: [{ email: 'fz@example.com', name: 'Fuzz' }],
      cc: [{ email: 'fz-cc@example.com' }],
      headers: { 'X-P': '1' },
      substitutions: { '-n-': 'x' },
      custom_args: { a: '1' },
    },
  ],
  reply_to: { email: 'help@shop.test' },
  content: [
    { type: 'text/plain', value: 'hi -n-' },
    { type: 'text/html', value: '<p>hi</p>' },
  ],
  attachments: [{ content: 'aGk=', filename: 'a.txt', type: 'text/plain' }],
  headers: { 'X-Custom': 'v' },
  categories: ['c'],
  custom_args: { b: '2' },
  tracking_settings: { click_tracking: { enable: false } },
} satisfies Json;

const POSTMARK_FULL = {
  ...postmarkMessage(),
  Cc: 'fz-cc@example.com',
  HtmlBody: '<p>hi</p>',
  ReplyTo: 'help@shop.test',
  Tag: 't',
  Headers: [{ Name: 'X-Custom', Value: 'v' }],
  Metadata: { a: '1' },
  TrackOpens: false,
  TrackLinks: 'None',
  Attachments: [{ Name: 'a.txt', Content: 'aGk=', ContentType: 'text/plain' }],
  MessageStream: 'outbound',
} satisfies Json;

const MAILGUN_FULL: readonly Field[] = [
  ...MAILGUN_FIELDS,
  ['cc', 'fz-cc@example.com'],
  ['html', '<p>hi</p>'],
  ['o:tag', 't'],
  ['h:X-Custom', 'v'],
  ['v:order', '1'],
];

const MIME_MESSAGE =
  'From: Shop <team@shop.test>\r\nTo: fz@example.com\r\nSubject: Hello\r\n\r\nhello\r\n';

/** One generated request: everything needed to send it and to say what it was. */
interface FuzzRequest {
  readonly kind: string;
  readonly auth: string;
  readonly headers: Record<string, string>;
  readonly body: Body;
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'multipart/form-data; boundary=x',
  'multipart/form-data',
  'application/x-www-form-urlencoded',
  'text/plain',
  'multipart/mixed; boundary=x',
  'application/json; charset=utf-16',
  '*/*',
];

const INVALID_JSON = [
  '{',
  '[1,]',
  '{"a":}',
  '\ufeff{}',
  '{} trailing',
  'nul\0l',
  '"just a string"',
  '{"__proto__": {"x": 1}}',
  '{"constructor": {"prototype": {"x": 1}}}',
  '',
];

type Endpoint = 'messages' | 'messages.mime' | 'mail/send' | 'email' | 'email/batch';

/** A Mailgun form, mutated: a value replaced, a field dropped, repeated or added. */
const mailgunFields = (f: Fuzzer, base: readonly Field[]): Field[] => {
  const fields = [...base];
  for (let n = 1 + f.int(3); n > 0; n--) {
    const roll = f.next();
    const at = f.int(fields.length);
    const name = fields[at]?.[0] ?? 'to';
    if (roll < 0.4) fields[at] = [name, f.string()];
    else if (roll < 0.55) fields.splice(at, 1);
    else if (roll < 0.65) fields.push([name, f.string()]);
    else if (roll < 0.75) {
      // Mostly values for the To address itself, used by the text: what batch sending reads.
      const vars = f.chance(0.7)
        ? { 'fz@example.com': { x: f.json(['x', 'toString', 'valueOf']) } }
        : f.json(['x']);
      const text = fields.findIndex(([n]) => n === 'text');
      if (text >= 0) fields[text] = ['text', 'Hi %recipient.x%'];
      fields.push(['recipient-variables', JSON.stringify(vars)]);
    } else fields.push([f.chance(0.7) ? f.pick(MAILGUN_NAMES) : f.string(), f.string()]);
  }
  return fields;
};

const mimeMessage = (f: Fuzzer): Buffer => {
  const roll = f.next();
  if (roll < 0.25) return Buffer.from(MIME_MESSAGE);
  if (roll < 0.5) return Buffer.from(MIME_MESSAGE.replace('Shop <team@shop.test>', f.string()));
  if (roll < 0.65) return Buffer.from(`${f.string()}\r\n${MIME_MESSAGE}`);
  if (roll < 0.75) return Buffer.from(MIME_MESSAGE.replace(/\r\n\r\n/, '\r\n'));
  if (roll < 0.85) return Buffer.from(MIME_MESSAGE.replace(/\r\n/g, f.pick(['\n', '\r', '\0'])));
  return Buffer.from(f.bytes(2048));
};

/** Mailgun's form body for one endpoint: form-encoded or multipart, as the fuzzer likes. */
const mailgunBody = (
  f: Fuzzer,
  endpoint: 'messages' | 'messages.mime',
): { body: Body; type: string } => {
  if (endpoint === 'messages.mime') {
    const fields = mailgunFields(f, [['to', 'fz@example.com']]);
    const message = { name: 'message', filename: 'message.mime', type: 'message/rfc822' };
    const files = f.chance(0.9) ? [{ ...message, content: mimeMessage(f) }] : [];
    if (f.chance(0.1))
      return { body: urlencoded(fields), type: 'application/x-www-form-urlencoded' };
    return { body: multipart(fields, files), type: 'multipart/form-data; boundary=fuzz-boundary' };
  }
  const fields = mailgunFields(f, MAILGUN_FULL);
  if (f.chance(0.5)) return { body: urlencoded(fields), type: 'application/x-www-form-urlencoded' };
  const files = f.chance(0.4)
    ? [
        {
          name: f.pick(['attachment', 'inline', f.string()]),
          filename: f.string(),
          type: f.pick(['text/plain', 'image/png', f.token(30)]),
          content: Buffer.from(f.bytes(512)),
        },
      ]
    : [];
  return { body: multipart(fields, files), type: 'multipart/form-data; boundary=fuzz-boundary' };
};

const validJsonBody = (f: Fuzzer, endpoint: Endpoint): Json => {
  if (endpoint === 'mail/send') return mutated(f, SENDGRID_FULL, SENDGRID_KEYS);
  if (endpoint === 'email') return mutated(f, POSTMARK_FULL, POSTMARK_KEYS);
  const batch: Json = Array.from({ length: 1 + f.int(3) }, () => POSTMARK_FULL);
  return f.chance(0.8) ? mutated(f, batch, POSTMARK_KEYS) : f.json(POSTMARK_KEYS);
};

const keysFor = (endpoint: Endpoint): readonly string[] =>
  endpoint === 'mail/send'
    ? SENDGRID_KEYS
    : endpoint.startsWith('email')
      ? POSTMARK_KEYS
      : MAILGUN_NAMES;

/** The endpoint's own authentication, or one of the ways to get it wrong. */
const authFor = (
  f: Fuzzer,
  endpoint: Endpoint,
  key: string,
): { auth: string; headers: Record<string, string> } => {
  const valid: Record<string, string> =
    endpoint === 'mail/send'
      ? { authorization: `Bearer ${key}` }
      : endpoint.startsWith('email')
        ? { 'x-postmark-server-token': key }
        : { authorization: basic('api', key) };
  if (f.chance(0.75)) return { auth: 'valid', headers: valid };
  const wrong = f.pick<Record<string, string>>([
    {},
    { authorization: `Bearer ${key}x` },
    { authorization: basic('api', `${key}x`) },
    { authorization: basic('user', key) },
    { authorization: `Basic ${Buffer.from(`api${key}`).toString('base64')}` },
    { authorization: 'Basic !!!!' },
    { authorization: 'Bearer' },
    { authorization: f.token(60) },
    { 'x-postmark-server-token': `${key}x` },
    { 'x-postmark-server-token': f.token(60) },
  ]);
  return { auth: JSON.stringify(wrong).slice(0, 60), headers: wrong };
};

/** One malformed request for an endpoint, drawn from the fuzzer. */
const fuzzRequest = (f: Fuzzer, endpoint: Endpoint, key: string): FuzzRequest => {
  const { auth, headers } = authFor(f, endpoint, key);
  const roll = f.next();
  const isMailgun = endpoint.startsWith('messages');
  const typed = (kind: string, body: Body, type: string | null): FuzzRequest => ({
    kind,
    auth,
    headers: type === null ? headers : { ...headers, 'content-type': type },
    body,
  });
  if (roll < 0.4) {
    if (!isMailgun)
      return typed('mutated', JSON.stringify(validJsonBody(f, endpoint)), 'application/json');
    const { body, type } = mailgunBody(f, endpoint as 'messages' | 'messages.mime');
    return typed('mutated', body, type);
  }
  if (roll < 0.6)
    return typed('json', JSON.stringify(f.json(keysFor(endpoint))), 'application/json');
  if (roll < 0.67) {
    // Deep nesting: parsers and anything that walks the value recursively.
    const depth = 1000 + f.int(20_000);
    return typed(
      'deep',
      `{"${f.pick(keysFor(endpoint))}":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      'application/json',
    );
  }
  if (roll < 0.75) return typed('invalid-json', f.pick(INVALID_JSON), 'application/json');
  if (roll < 0.9) {
    const type = f.chance(0.15) ? null : f.chance(0.8) ? f.pick(CONTENT_TYPES) : f.token(40);
    return typed('bytes', f.bytes(4096), type);
  }
  const whole = multipart(mailgunFields(f, MAILGUN_FULL), [
    {
      name: 'message',
      filename: 'm.eml',
      type: 'message/rfc822',
      content: Buffer.from(MIME_MESSAGE),
    },
  ]);
  return typed(
    'truncated-multipart',
    whole.subarray(0, f.int(whole.length)),
    'multipart/form-data; boundary=fuzz-boundary',
  );
};

const preview = (body: Body): string =>
  JSON.stringify(
    (typeof body === 'string' ? body : Buffer.from(body).toString('latin1')).slice(0, 160),
  );

/** Runs `work` over `items`, `width` at a time. */
const inPool = async <T>(
  items: readonly T[],
  width: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> => {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index] as T, index);
      }
    }),
  );
};

// ---------------------------------------------------------------------------------------

describe('HTTP sending APIs under bad input', () => {
  let api: ApiRelay;
  let big: Buffer | null = null;

  before(async () => {
    api = await startApiRelay('127.0.0.66');
  });
  after(async () => api.close());

  /** One 53.5 MiB run of `a`, built once: the body of every oversize request. */
  const oversize = (): Buffer => {
    big ??= Buffer.alloc(OVERSIZE, 'a');
    return big;
  };

  const send = async (
    path: string,
    init: { readonly headers?: Record<string, string>; readonly body?: Body },
  ): Promise<Reply> => {
    const response = await fetch(`${api.baseUrl}${path}`, {
      method: init.body === undefined ? 'GET' : 'POST',
      headers: init.headers ?? {},
      body: init.body,
    });
    const text = await response.text();
    return {
      status: response.status,
      type: response.headers.get('content-type') ?? '',
      headers: response.headers,
      text,
      json: parseJson(text),
    };
  };

  const queued = async (): Promise<number> => (await acceptedMessages(api.relay.store)).length;

  /** Sends a request that must be refused, checks the answer, and that nothing was queued. */
  const refused = async (request: () => Promise<Reply>, check: (reply: Reply) => void) => {
    const before = await queued();
    const reply = await request();
    check(reply);
    assert.equal(await queued(), before, 'nothing queued');
  };

  /**
   * A request carrying CR/LF in one field: refused in the provider's shape with nothing
   * queued, or taken, and then what reaches the sink for `recipient` has no header the
   * field smuggled in, and nothing went to the smuggled Bcc.
   */
  const injectionAttempt = async (
    request: () => Promise<Reply>,
    recipient: string,
    provider: {
      readonly accepted: (reply: Reply) => boolean;
      readonly refusal: (reply: Reply) => void;
    },
  ) => {
    const before = await queued();
    const reply = await request();
    assert.ok(reply.status < 500, `${reply.status} ${reply.text}`);
    if (!provider.accepted(reply)) {
      provider.refusal(reply);
      assert.equal(await queued(), before, 'nothing queued');
      return;
    }
    const raw = (await api.receivedBytes(recipient)).toString('latin1');
    const mail = await api.received(recipient);
    assert.equal(mail.headers.has('bcc'), false, raw);
    assert.equal(mail.headers.has('x-injected'), false, raw);
    // In any part's header too, not only the top-level ones mailparser lists.
    assert.doesNotMatch(raw, /(^|[\r\n])(bcc|x-injected)[ \t]*:/i);
    assert.equal(
      api.sink.transactions.some((t) => t.to.includes(EVIL)),
      false,
      'nothing sent to the smuggled Bcc',
    );
  };

  let injections = 0;
  /** A recipient of its own for each injection attempt, to find it at the sink. */
  const nextRecipient = (provider: string): string => `inj-${provider}-${++injections}@example.com`;

  describe('Mailgun POST /v3/:domain/messages', () => {
    const path = () => `/v3/${api.domain}/messages`;
    const post = (
      fields: readonly Field[],
      headers: Record<string, string> = { authorization: basic('api', api.apiKey) },
    ) =>
      send(path(), {
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
        body: urlencoded(fields),
      });
    const refusedWith = (fields: readonly Field[], message: string | RegExp) =>
      refused(
        () => post(fields),
        (r) => mailgunError(r, 400, message),
      );

    it('a missing from: 400 "from parameter is missing"', async () => {
      await refusedWith(
        withFields(MAILGUN_FIELDS, { from: undefined }),
        'from parameter is missing',
      );
    });

    it('a missing to: 400 "to parameter is missing"', async () => {
      await refusedWith(withFields(MAILGUN_FIELDS, { to: undefined }), 'to parameter is missing');
      await refusedWith(withFields(MAILGUN_FIELDS, { to: '  ' }), 'to parameter is missing');
    });

    it('an invalid to: 400 "to parameter is not a valid address"', async () => {
      for (const to of ['not-an-address', 'ann@', 'a@[127.0.0.1]', '@relay.test:ann@example.com'])
        await refusedWith(
          withFields(MAILGUN_FIELDS, { to }),
          'to parameter is not a valid address. please check documentation',
        );
    });

    it('recipient-variables that are not JSON: 400', async () => {
      for (const variables of ['{', 'not json', '[1, 2]', '"a string"', 'null'])
        await refusedWith(
          withFields(MAILGUN_FIELDS, { 'recipient-variables': variables }),
          "'recipient-variables' parameter is not a valid JSON",
        );
    });

    it('recipient-variables whose values are not strings: taken or refused, never a 5xx', async () => {
      for (const x of [{ toString: 1 }, { toString: {}, valueOf: {} }, [1, [2]], null]) {
        const to = nextRecipient('mg-vars');
        const before = await queued();
        const reply = await post(
          withFields(MAILGUN_FIELDS, {
            to,
            text: 'Hi %recipient.x%',
            'recipient-variables': JSON.stringify({ [to]: { x } }),
          }),
        );
        const what = `x = ${JSON.stringify(x)}: ${reply.status} ${reply.text}`;
        assert.ok(reply.status === 200 || reply.status === 400, what);
        if (reply.status === 400) mailgunError(reply, 400);
        assert.equal(await queued(), before + Number(reply.status === 200), what);
      }
    });

    it('1001 recipients: 400 "Too many recipients, max is 1000"', async () => {
      await refusedWith(
        withFields(MAILGUN_FIELDS, { to: addresses(1001, 'mg-many-') }),
        'Too many recipients, max is 1000',
      );
      await refusedWith(
        withFields(MAILGUN_FIELDS, { to: addresses(1000, 'mg-many-'), cc: 'mg-cc@example.com' }),
        'Too many recipients, max is 1000',
      );
    });

    it('neither text nor html: 400', async () => {
      await refusedWith(
        withFields(MAILGUN_FIELDS, { text: undefined }),
        "Need at least one of 'text' or 'html' parameters specified",
      );
      await refusedWith(
        withFields(MAILGUN_FIELDS, { text: '', html: '' }),
        "Need at least one of 'text' or 'html' parameters specified",
      );
    });

    it('a missing or wrong key: 401 with a plain-text Forbidden', async () => {
      const key = api.apiKey;
      const attempts: Record<string, string>[] = [
        {},
        { authorization: basic('api', `${key}x`) },
        { authorization: basic('api', '') },
        { authorization: basic('user', key) },
        { authorization: `Bearer ${key}` },
        { authorization: `Basic ${Buffer.from(`api${key}`).toString('base64')}` },
        { authorization: 'Basic !!!!' },
      ];
      for (const headers of attempts)
        await refused(() => post(MAILGUN_FIELDS, headers), mailgunForbidden);
    });

    it('a domain the key may not send for: 404 "Domain not found"', async () => {
      for (const domain of ['other.test', 'sub.shop.test.evil', 'SHOP.TEST.x'])
        await refused(
          () =>
            send(`/v3/${domain}/messages`, {
              headers: {
                authorization: basic('api', api.apiKey),
                'content-type': 'application/x-www-form-urlencoded',
              },
              body: urlencoded(MAILGUN_FIELDS),
            }),
          (r) => mailgunError(r, 404, `Domain not found: ${domain}`),
        );
    });

    it('a JSON body: 400 with a message, nothing sent', async () => {
      await refused(
        () =>
          send(path(), {
            headers: {
              authorization: basic('api', api.apiKey),
              'content-type': 'application/json',
            },
            body: JSON.stringify(Object.fromEntries(MAILGUN_FIELDS)),
          }),
        (r) => mailgunError(r, 400),
      );
    });

    it('messages.mime: form-encoded, or without its message part: 400', async () => {
      await refused(
        () =>
          send(`${path()}.mime`, {
            headers: {
              authorization: basic('api', api.apiKey),
              'content-type': 'application/x-www-form-urlencoded',
            },
            body: urlencoded([['to', 'fz@example.com']]),
          }),
        (r) => mailgunError(r, 400, /Expecting 'multipart\/form-data'/),
      );
      await refused(
        () =>
          send(`${path()}.mime`, {
            headers: {
              authorization: basic('api', api.apiKey),
              'content-type': 'multipart/form-data; boundary=fuzz-boundary',
            },
            body: multipart([['to', 'fz@example.com']]),
          }),
        (r) => mailgunError(r, 400, 'message parameter is missing'),
      );
    });

    const mailgun = {
      accepted: (r: Reply) => r.status === 200,
      refusal: (r: Reply) => mailgunError(r, 400),
    };
    // Each field that ends up in a header, and what CR/LF in it looks like on the form.
    const fields: ReadonlyArray<readonly [string, (evil: string, to: string) => Field[]]> = [
      ['subject', (evil, to) => withFields(MAILGUN_FIELDS, { to, subject: evil })],
      [
        'from name',
        (evil, to) => withFields(MAILGUN_FIELDS, { to, from: `"${evil}" <team@shop.test>` }),
      ],
      ['to name', (evil, to) => withFields(MAILGUN_FIELDS, { to: `${evil} <${to}>` })],
      [
        'cc name',
        (evil, to) => withFields(MAILGUN_FIELDS, { to, cc: `"${evil}" <fz-cc@example.com>` }),
      ],
      [
        'h:Reply-To',
        (evil, to) =>
          withFields(MAILGUN_FIELDS, { to, 'h:Reply-To': `"${evil}" <help@shop.test>` }),
      ],
      ['h:X-Custom value', (evil, to) => withFields(MAILGUN_FIELDS, { to, 'h:X-Custom': evil })],
      [
        'h: header name',
        (evil, to) => withFields(MAILGUN_FIELDS, { to, [`h:X-Custom${evil}`]: 'v' }),
      ],
      [
        'h:Message-Id value',
        (evil, to) => withFields(MAILGUN_FIELDS, { to, 'h:Message-Id': `<a@shop.test>${evil}` }),
      ],
      [
        'h:X-Mailgun-Sending-Ip-Pool',
        (evil, to) => withFields(MAILGUN_FIELDS, { to, 'h:X-Mailgun-Sending-Ip-Pool': evil }),
      ],
      ['o:tag', (evil, to) => withFields(MAILGUN_FIELDS, { to, 'o:tag': evil })],
      ['v: value', (evil, to) => withFields(MAILGUN_FIELDS, { to, 'v:order': evil })],
      [
        'a %recipient.x% value in the subject',
        (evil, to) =>
          withFields(MAILGUN_FIELDS, {
            to,
            subject: 'Hi %recipient.x%',
            'recipient-variables': JSON.stringify({ [to]: { x: evil } }),
          }),
      ],
    ];
    for (const [field, fieldsWith] of fields)
      it(`CR/LF in the ${field}: refused, or no header gets in`, async () => {
        for (const brk of Object.values(BREAKS)) {
          const to = nextRecipient('mg');
          await injectionAttempt(() => post(fieldsWith(injection(brk), to)), to, mailgun);
        }
      });

    it('CR/LF in a multipart subject and h: value: refused, or no header gets in', async () => {
      for (const changes of [{ subject: injection('\r\n') }, { 'h:X-Custom': injection('\r\n') }]) {
        const to = nextRecipient('mg');
        const body = multipart(withFields(MAILGUN_FIELDS, { to, ...changes }));
        await injectionAttempt(
          () =>
            send(path(), {
              headers: {
                authorization: basic('api', api.apiKey),
                'content-type': 'multipart/form-data; boundary=fuzz-boundary',
              },
              body,
            }),
          to,
          mailgun,
        );
      }
    });

    /** A multipart body past one of Mailgun's limits: 413 in its words, nothing stored. */
    const refusedTooLarge = (body: Buffer) =>
      refused(
        () =>
          send(path(), {
            headers: {
              authorization: basic('api', api.apiKey),
              'content-type': 'multipart/form-data; boundary=fuzz-boundary',
            },
            body,
          }),
        (r) => mailgunError(r, 413, 'request size exceeds 52.4MiB limit'),
      );

    it('a body over 52.4 MiB: 413 "request size exceeds 52.4MiB limit"', async () => {
      const body = multipart(MAILGUN_FIELDS, [
        {
          name: 'attachment',
          filename: 'big.bin',
          type: 'application/octet-stream',
          content: oversize(),
        },
      ]);
      await refusedTooLarge(body);
    });

    it('more than 1,000 attachments, or more than 11,000 parts: 413, as for a body too big', async () => {
      const files = Array.from(
        { length: 1001 },
        (_, i): FilePart => ({
          name: 'attachment',
          filename: `f${i}.txt`,
          type: 'text/plain',
          content: Buffer.from('x'),
        }),
      );
      const fields = Array.from({ length: 11_000 }, (_, i): Field => [`v:k${i}`, 'v']);
      await refusedTooLarge(multipart(MAILGUN_FIELDS, files));
      await refusedTooLarge(multipart([...MAILGUN_FIELDS, ...fields]));
    });
  });

  describe('SendGrid POST /v3/mail/send', () => {
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      send('/v3/mail/send', {
        headers: {
          authorization: `Bearer ${api.apiKey}`,
          'content-type': 'application/json',
          ...headers,
        },
        body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
      });
    const without = (key: string) =>
      Object.fromEntries(Object.entries(sendgridMessage()).filter(([k]) => k !== key));

    it('invalid JSON: 400 in the errors shape', async () => {
      for (const body of ['{', '{"personalizations": [}', 'null x', ''])
        await refused(
          () => post(body),
          (r) => sendgridError(r, 400),
        );
    });

    it('no personalizations, from, content or subject: 400 naming the field', async () => {
      for (const field of ['personalizations', 'from', 'content', 'subject'])
        await refused(
          () => post(without(field)),
          (r) => sendgridError(r, 400, { field }),
        );
      await refused(
        () => post({ ...sendgridMessage(), personalizations: [] }),
        (r) => sendgridError(r, 400, { field: 'personalizations' }),
      );
    });

    it('an invalid address: 400 on personalizations.0.to.0.email', async () => {
      for (const email of ['not-an-address', 'ann@', 'ann@localhost', 'a b@example.com'])
        await refused(
          () => post(sendgridMessage(email)),
          (r) => sendgridError(r, 400, { field: 'personalizations.0.to.0.email' }),
        );
    });

    it('1001 personalizations: 400', async () => {
      const personalizations = addresses(1001, 'sg-many-').map((email) => ({ to: [{ email }] }));
      await refused(
        () => post({ ...sendgridMessage(), personalizations }),
        (r) => sendgridError(r, 400, { field: 'personalizations' }),
      );
    });

    it('the same address twice in one personalization: 400', async () => {
      const to = [{ email: 'sg-dup@example.com' }, { email: 'SG-DUP@example.com' }];
      await refused(
        () => post({ ...sendgridMessage(), personalizations: [{ to }] }),
        (r) => sendgridError(r, 400, { message: /unique/ }),
      );
      await refused(
        () =>
          post({
            ...sendgridMessage(),
            personalizations: [{ to: [to[0]], bcc: [{ email: 'sg-dup@example.com' }] }],
          }),
        (r) => sendgridError(r, 400, { field: 'personalizations.0.bcc' }),
      );
    });

    // The old check took time in the square of the run's length: about 25 s for this one, all
    // of it on the event loop the relay shares with this test, which then fails on its timeout.
    it('attachment content that is not base64 is refused at once, however long its run of blanks: 400', {
      timeout: 10_000,
    }, async () => {
      const content = `A${' '.repeat(BLANKS)}!`;
      await refused(
        () => post({ ...sendgridMessage(), attachments: [{ content, filename: 'a.bin' }] }),
        (r) => sendgridError(r, 400, { field: 'attachments.0.content' }),
      );
    });

    it('a field of the wrong type is named as such, not as missing: 400', async () => {
      await refused(
        () => post({ ...sendgridMessage(), send_at: '1700000000' }),
        (r) => {
          sendgridError(r, 400, { field: 'send_at', message: /expected number/ });
          assert.doesNotMatch(r.text, /required/);
        },
      );
    });

    it('reply_to and reply_to_list together: 400', async () => {
      await refused(
        () =>
          post({
            ...sendgridMessage(),
            reply_to: { email: 'help@shop.test' },
            reply_to_list: [{ email: 'help@shop.test' }],
          }),
        (r) => sendgridError(r, 400, { field: 'reply_to_list' }),
      );
    });

    it('content types as SendGrid takes them: 400 naming the rule', async () => {
      const cases: Array<[Array<{ type: string; value: string }>, string, RegExp]> = [
        [[{ type: 'text/plain\r\nBcc: x@example.com', value: 'x' }], 'content.0.type', /';'/],
        [
          [
            { type: 'text/plain', value: 'x' },
            { type: 'text/plain', value: 'y' },
          ],
          'content',
          /only be provided once/,
        ],
        [
          [
            { type: 'text/x-amp-html', value: '<html amp4email></html>' },
            { type: 'text/plain', value: 'x' },
          ],
          'content',
          /must be first/,
        ],
        [[{ type: 'application/pdf', value: 'x' }], 'content.0.type', /not supported/],
      ];
      for (const [content, field, message] of cases)
        await refused(
          () => post({ ...sendgridMessage(), content }),
          (r) => sendgridError(r, 400, { field, message }),
        );
    });

    it('a text/plain body: 415 in the errors shape', async () => {
      await refused(
        () => post(sendgridMessage(), { 'content-type': 'text/plain' }),
        (r) => sendgridError(r, 415),
      );
    });

    it('a missing or wrong key: 401 in the errors shape', async () => {
      for (const authorization of ['', 'Bearer', `Basic ${api.apiKey}`, `Bearer${api.apiKey}`])
        await refused(
          () => post(sendgridMessage(), { authorization }),
          (r) => sendgridError(r, 401),
        );
      await refused(
        () => post(sendgridMessage(), { authorization: `Bearer ${api.apiKey}x` }),
        (r) =>
          sendgridError(r, 401, {
            field: null,
            message: /^The provided authorization grant is invalid, expired, or revoked$/,
          }),
      );
    });

    const sendgrid = {
      accepted: (r: Reply) => r.status === 202,
      refusal: (r: Reply) => sendgridError(r, 400),
    };
    type Message = ReturnType<typeof sendgridMessage> & Record<string, unknown>;
    const personalization = (to: string, extra: Record<string, unknown>) => [
      { to: [{ email: to }], ...extra },
    ];
    const cases: ReadonlyArray<readonly [string, (evil: string, to: string) => Message]> = [
      ['headers value', (evil, to) => ({ ...sendgridMessage(to), headers: { 'X-Custom': evil } })],
      [
        'headers name',
        (evil, to) => ({ ...sendgridMessage(to), headers: { [`X-Custom${evil}`]: 'v' } }),
      ],
      [
        'personalizations[].headers value',
        (evil, to) => ({
          ...sendgridMessage(),
          personalizations: personalization(to, { headers: { 'X-P': evil } }),
        }),
      ],
      [
        'personalizations[].headers name',
        (evil, to) => ({
          ...sendgridMessage(),
          personalizations: personalization(to, { headers: { [`X-P${evil}`]: 'v' } }),
        }),
      ],
      ['subject', (evil, to) => ({ ...sendgridMessage(to), subject: evil })],
      [
        'personalizations[].subject',
        (evil, to) => ({
          ...sendgridMessage(),
          personalizations: personalization(to, { subject: evil }),
        }),
      ],
      [
        'a substitution into the subject',
        (evil, to) => ({
          ...sendgridMessage(),
          subject: 'Hi -x-',
          personalizations: personalization(to, { substitutions: { '-x-': evil } }),
        }),
      ],
      [
        'from.name',
        (evil, to) => ({ ...sendgridMessage(to), from: { email: 'team@shop.test', name: evil } }),
      ],
      [
        'to[].name',
        (evil, to) => ({
          ...sendgridMessage(),
          personalizations: [{ to: [{ email: to, name: evil }] }],
        }),
      ],
      [
        'cc[].name',
        (evil, to) => ({
          ...sendgridMessage(),
          personalizations: personalization(to, {
            cc: [{ email: 'sg-cc@example.com', name: evil }],
          }),
        }),
      ],
      [
        'personalizations[].from.name',
        (evil, to) => ({
          ...sendgridMessage(),
          personalizations: personalization(to, { from: { email: 'team@shop.test', name: evil } }),
        }),
      ],
      [
        'reply_to.name',
        (evil, to) => ({
          ...sendgridMessage(to),
          reply_to: { email: 'help@shop.test', name: evil },
        }),
      ],
      ['categories', (evil, to) => ({ ...sendgridMessage(to), categories: [evil] })],
      ['custom_args', (evil, to) => ({ ...sendgridMessage(to), custom_args: { a: evil } })],
      ['ip_pool_name', (evil, to) => ({ ...sendgridMessage(to), ip_pool_name: evil })],
      [
        'an attachment filename, type and content_id',
        (evil, to) => ({
          ...sendgridMessage(to),
          attachments: [
            {
              content: 'aGk=',
              filename: evil,
              type: `text/plain${evil}`,
              disposition: 'inline',
              content_id: evil,
            },
          ],
        }),
      ],
    ];
    for (const [field, message] of cases)
      it(`CR/LF in ${field}: refused, or no header gets in`, async () => {
        for (const brk of Object.values(BREAKS)) {
          const to = nextRecipient('sg');
          await injectionAttempt(() => post(message(injection(brk), to)), to, sendgrid);
        }
      });

    it('a body over 30 MB: 413 in the errors shape', async () => {
      const body = Buffer.concat([
        Buffer.from('{"subject":"'),
        oversize().subarray(0, 31 * 1024 * 1024),
        Buffer.from('"}'),
      ]);
      await refused(
        () => post(body),
        (r) => sendgridError(r, 413),
      );
    });
  });

  describe('Postmark POST /email and /email/batch', () => {
    const post = (
      path: '/email' | '/email/batch',
      body: unknown,
      headers: Record<string, string> = {},
    ) =>
      send(path, {
        headers: {
          'x-postmark-server-token': api.apiKey,
          'content-type': 'application/json',
          ...headers,
        },
        body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
      });

    it('invalid JSON: 422 ErrorCode 402', async () => {
      for (const path of ['/email', '/email/batch'] as const)
        for (const body of ['{', '[{"From": }]', '{"a": 1} x', ''])
          await refused(
            () => post(path, body),
            (r) => postmarkError(r, 422, 402),
          );
    });

    it('attachment content that is not base64 is refused at once, however long its run of blanks: 422 ErrorCode 300', {
      timeout: 10_000,
    }, async () => {
      const Content = `A${' '.repeat(BLANKS)}!`;
      await refused(
        () =>
          post('/email', {
            ...postmarkMessage(),
            Attachments: [{ Name: 'a.bin', Content, ContentType: 'application/octet-stream' }],
          }),
        (r) => postmarkError(r, 422, 300, /base64/),
      );
    });

    it('a missing or invalid From: 422 ErrorCode 300', async () => {
      for (const From of [undefined, '', 'not-an-address', 'a@b', 'a@example.com, b@example.com'])
        await refused(
          () => post('/email', { ...postmarkMessage(), From }),
          (r) => postmarkError(r, 422, 300, /From/),
        );
    });

    it('zero recipients, or 51: 422 ErrorCode 300', async () => {
      for (const To of [undefined, '', ' '])
        await refused(
          () => post('/email', { ...postmarkMessage(), To }),
          (r) => postmarkError(r, 422, 300),
        );
      await refused(
        () => post('/email', { ...postmarkMessage(), To: addresses(51, 'pm-many-').join(', ') }),
        (r) => postmarkError(r, 422, 300),
      );
      await refused(
        () =>
          post('/email', {
            ...postmarkMessage(),
            To: addresses(25, 'pm-to-').join(', '),
            Cc: addresses(25, 'pm-cc-').join(', '),
            Bcc: 'pm-bcc@example.com',
          }),
        (r) => postmarkError(r, 422, 300),
      );
    });

    it('neither TextBody nor HtmlBody: 422 ErrorCode 300', async () => {
      await refused(
        () => post('/email', { ...postmarkMessage(), TextBody: undefined }),
        (r) => postmarkError(r, 422, 300),
      );
      await refused(
        () => post('/email', { ...postmarkMessage(), TextBody: '', HtmlBody: '' }),
        (r) => postmarkError(r, 422, 300),
      );
    });

    it('a missing or wrong token: 401 ErrorCode 10', async () => {
      for (const path of ['/email', '/email/batch'] as const) {
        const body = path === '/email' ? postmarkMessage() : [postmarkMessage()];
        for (const token of ['', `${api.apiKey}x`, 'POSTMARK_API_TEST'])
          await refused(
            () => post(path, body, { 'x-postmark-server-token': token }),
            (r) => postmarkError(r, 401, 10),
          );
        await refused(
          () =>
            post(path, body, {
              'x-postmark-server-token': '',
              authorization: `Bearer ${api.apiKey}`,
            }),
          (r) => postmarkError(r, 401, 10),
        );
      }
    });

    it('a batch of 501: 422 ErrorCode 410', async () => {
      await refused(
        () => post('/email/batch', addresses(501, 'pm-batch-').map(postmarkMessage)),
        (r) => postmarkError(r, 422, 410),
      );
    });

    it('a batch that is an object, not an array: 422', async () => {
      await refused(
        () => post('/email/batch', postmarkMessage()),
        (r) => {
          assert.equal(r.status, 422, r.text);
          assert.ok(postmarkErrorShape(r.json), r.text);
        },
      );
    });

    it('a batch takes its good messages and answers for the bad one in its place', async () => {
      const good = nextRecipient('pm');
      const before = await queued();
      const reply = await post('/email/batch', [
        { ...postmarkMessage(), Headers: [{ Name: `X-A${injection('\r\n')}`, Value: 'v' }] },
        postmarkMessage(good),
      ]);
      assert.equal(reply.status, 200, reply.text);
      const [bad, ok] = reply.json as unknown[];
      assert.ok(postmarkErrorShape(bad), JSON.stringify(bad));
      assert.equal((bad as { ErrorCode: number }).ErrorCode, 300);
      assert.ok(postmarkSuccessShape(ok), JSON.stringify(ok));
      assert.equal(await queued(), before + 1);
      await api.receivedBytes(good);
    });

    const postmark = {
      accepted: (r: Reply) => r.status === 200,
      refusal: (r: Reply) => postmarkError(r, 422, 300),
    };
    const cases: ReadonlyArray<
      readonly [string, (evil: string, to: string) => Record<string, unknown>]
    > = [
      [
        'Headers[].Value',
        (evil, to) => ({ ...postmarkMessage(to), Headers: [{ Name: 'X-Custom', Value: evil }] }),
      ],
      [
        'Headers[].Name',
        (evil, to) => ({
          ...postmarkMessage(to),
          Headers: [{ Name: `X-Custom${evil}`, Value: 'v' }],
        }),
      ],
      ['Subject', (evil, to) => ({ ...postmarkMessage(to), Subject: evil })],
      ['From name', (evil, to) => ({ ...postmarkMessage(to), From: `"${evil}" <team@shop.test>` })],
      ['To name', (evil, to) => ({ ...postmarkMessage(), To: `"${evil}" <${to}>` })],
      ['Cc name', (evil, to) => ({ ...postmarkMessage(to), Cc: `${evil} <pm-cc@example.com>` })],
      [
        'ReplyTo',
        (evil, to) => ({ ...postmarkMessage(to), ReplyTo: `"${evil}" <help@shop.test>` }),
      ],
      ['Tag', (evil, to) => ({ ...postmarkMessage(to), Tag: evil })],
      ['Metadata value', (evil, to) => ({ ...postmarkMessage(to), Metadata: { a: evil } })],
      ['MessageStream', (evil, to) => ({ ...postmarkMessage(to), MessageStream: evil })],
      [
        'an attachment Name, ContentType and ContentID',
        (evil, to) => ({
          ...postmarkMessage(to),
          Attachments: [
            {
              Name: evil,
              Content: 'aGk=',
              ContentType: `text/plain${evil}`,
              ContentID: `cid:${evil}`,
            },
          ],
        }),
      ],
    ];
    for (const [field, message] of cases)
      it(`CR/LF in ${field}: refused, or no header gets in`, async () => {
        for (const brk of Object.values(BREAKS)) {
          const to = nextRecipient('pm');
          await injectionAttempt(() => post('/email', message(injection(brk), to)), to, postmark);
        }
      });

    it('a body over 50 MB: 413 {ErrorCode, Message}', async () => {
      const body = Buffer.concat([Buffer.from('{"Subject":"'), oversize(), Buffer.from('"}')]);
      await refused(
        () => post('/email/batch', body),
        (r) => {
          assert.equal(r.status, 413, r.text);
          assert.ok(postmarkErrorShape(r.json), r.text);
        },
      );
      big = null;
    });
  });

  describe(`fuzz, seed ${SEED} (replay: FUZZ_SEED=${SEED})`, () => {
    const ENDPOINTS: ReadonlyArray<{
      readonly endpoint: Endpoint;
      readonly source: Accepted['source'];
      readonly shape: ShapeCheck;
      /** How many messages (or requests, for Mailgun and SendGrid) an answer says it took. */
      readonly taken: (reply: Reply) => number;
    }> = [
      {
        endpoint: 'messages',
        source: 'mailgun',
        shape: mailgunShape,
        taken: (r) => Number(r.status === 200),
      },
      {
        endpoint: 'messages.mime',
        source: 'mailgun',
        shape: mailgunShape,
        taken: (r) => Number(r.status === 200),
      },
      {
        endpoint: 'mail/send',
        source: 'sendgrid',
        shape: sendgridShape,
        taken: (r) => Number(r.status < 300),
      },
      {
        endpoint: 'email',
        source: 'postmark',
        shape: postmarkShape,
        taken: (r) => Number(r.status === 200),
      },
      {
        endpoint: 'email/batch',
        source: 'postmark',
        shape: postmarkBatchShape,
        taken: (r) =>
          r.status === 200 && Array.isArray(r.json)
            ? r.json.filter(postmarkSuccessShape).length
            : 0,
      },
    ];
    const pathOf = (endpoint: Endpoint): string =>
      endpoint.startsWith('messages')
        ? `/v3/${api.domain}/${endpoint}`
        : endpoint === 'mail/send'
          ? '/v3/mail/send'
          : `/${endpoint}`;

    /** What the store holds from one source: Mailgun and SendGrid count requests, Postmark messages. */
    const stored = async (source: Accepted['source']): Promise<Set<string>> =>
      new Set(
        (await acceptedMessages(api.relay.store))
          .filter((e) => (e.data as Accepted).source === source)
          .map((e) =>
            source === 'postmark' ? e.streamName : ((e.data as Accepted).batchId ?? e.streamName),
          ),
      );

    for (const [n, { endpoint, source, shape, taken }] of ENDPOINTS.entries())
      it(`${FUZZ_PER_ENDPOINT} malformed requests to ${endpoint}: no 5xx, the provider's shapes, only what was acknowledged is stored`, async () => {
        // Each endpoint its own stream, so one replays without the others.
        const f = createFuzzer(SEED + n);
        const requests = Array.from({ length: FUZZ_PER_ENDPOINT }, () =>
          fuzzRequest(f, endpoint, api.apiKey),
        );
        const storedBefore = await stored(source);
        const problems: string[] = [];
        let acknowledged = 0;
        await inPool(requests, FUZZ_WIDTH, async (request, i) => {
          const what = `#${i} ${request.kind} auth=${request.auth} content-type=${request.headers['content-type'] ?? '(none)'} body=${preview(request.body)}`;
          let reply: Reply;
          try {
            reply = await send(pathOf(endpoint), { headers: request.headers, body: request.body });
          } catch (error) {
            problems.push(`${what}\n    -> no answer: ${String(error)}`);
            return;
          }
          const valid = request.auth === 'valid';
          const problem =
            reply.status >= 500
              ? `a ${reply.status}`
              : !valid && reply.status < 300
                ? 'taken without a valid key'
                : valid && reply.status === 401
                  ? 'a valid key refused'
                  : shape(reply);
          if (problem)
            problems.push(
              `${what}\n    -> ${problem}: ${reply.status} ${reply.text.slice(0, 200)}`,
            );
          acknowledged += taken(reply);
        });
        assert.deepEqual(problems, [], `${problems.length} bad answers (FUZZ_SEED=${SEED})`);
        const storedAfter = await stored(source);
        assert.equal(
          [...storedAfter].filter((id) => !storedBefore.has(id)).length,
          acknowledged,
          'stored exactly what was acknowledged',
        );
      });

    it('afterwards the relay is healthy and each API still takes a valid message', async () => {
      assert.equal((await send('/healthz', {})).status, 200);

      const mgTo = nextRecipient('after-mg');
      const mg = await send(`/v3/${api.domain}/messages`, {
        headers: {
          authorization: basic('api', api.apiKey),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: urlencoded(withFields(MAILGUN_FIELDS, { to: mgTo })),
      });
      assert.equal(mg.status, 200, mg.text);
      assert.equal((mg.json as { message: string }).message, 'Queued. Thank you.');
      assert.match((mg.json as { id: string }).id, /^<.+@shop\.test>$/);

      const sgTo = nextRecipient('after-sg');
      const sg = await send('/v3/mail/send', {
        headers: { authorization: `Bearer ${api.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(sendgridMessage(sgTo)),
      });
      assert.equal(sg.status, 202, sg.text);
      assert.ok(sg.headers.get('x-message-id'));

      const pmTo = nextRecipient('after-pm');
      const pm = await send('/email', {
        headers: { 'x-postmark-server-token': api.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify(postmarkMessage(pmTo)),
      });
      assert.equal(pm.status, 200, pm.text);
      assert.equal((pm.json as { ErrorCode: number }).ErrorCode, 0);

      // And delivery survived whatever the fuzz got through.
      for (const to of [mgTo, sgTo, pmTo]) assert.ok((await api.receivedBytes(to)).length > 0);
    });
  });
});
