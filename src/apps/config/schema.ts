import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { hostname } from 'node:os';
import { z } from 'zod';
import { parseDuration } from '../../domain/duration/duration.js';
import { isCidr } from '../../domain/network/network-matcher.js';

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 30s, 5m, 4h or 4d12h' });
    return z.NEVER;
  }
  return ms;
});

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** The public http(s) address of one of the relay's HTTP endpoints, without a trailing slash. */
const publicBaseUrl = (example: string) =>
  z
    .string()
    .url(`expected an https URL, e.g. ${example}`)
    .refine((u) => u.startsWith('https://') || u.startsWith('http://'), 'expected an http(s) URL')
    .transform((u) => u.replace(/\/+$/, ''))
    .nullable()
    .default(null);

/** `HOST:PORT`, `[v6]:PORT` or `:PORT` (all interfaces). */
export const parseHostPort = (text: string): ListenAddress | undefined => {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
};

const listen = z.string().transform((text, ctx) => {
  const parsed = parseHostPort(text);
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: 'expected HOST:PORT, e.g. 0.0.0.0:587 or [::1]:587' });
    return z.NEVER;
  }
  return parsed;
});

const cidr = z
  .string()
  .refine(isCidr, { message: 'expected a network in CIDR form, e.g. 127.0.0.1/32 or ::1/128' });

const pemFile = z
  .string()
  .min(1)
  .refine((path) => {
    try {
      return readFileSync(path, 'utf8').includes('-----BEGIN CERTIFICATE-----');
    } catch {
      return false;
    }
  }, 'expected a readable PEM file of certificates');

const dnsServer = z
  .string()
  .refine((text) => isIPv4(text) || isIPv6(text) || parseHostPort(text) !== undefined, {
    message: 'expected an IP address, optionally with a port: 127.0.0.1:5353',
  });

/** A route target: `[host]:port` connects there directly, `host:port` looks up host's MX. */
export const RouteSchema = z.string().transform((text, ctx) => {
  const m = /^(\[([^\]]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: 'expected [host]:port, [ip]:port or domain[:port]' });
    return z.NEVER;
  }
  return {
    host: (m[2] ?? m[3]) as string,
    /** Brackets mean: no MX lookup, connect to this host (Postfix's relayhost syntax). */
    direct: m[2] !== undefined,
    port: m[4] ? Number(m[4]) : undefined,
  };
});
export type Route = z.infer<typeof RouteSchema>;

/** The schemes EventStoreDB and KurrentDB clients take. */
export const ESDB_CONNECTION_STRING = /^(esdb|kurrentdb|kdb|kurrent)(\+discover)?:\/\//;
export const ESDB_CONNECTION_HINT =
  'expected an EventStoreDB connection string, e.g. esdb://127.0.0.1:2113?tls=false';

const authBan = (failures: number, within: string, ban: string) =>
  z
    .object({
      failures: z.number().int().positive().default(failures),
      within: duration.prefault(within),
      ban: duration.prefault(ban),
    })
    .strict()
    .prefault({});

const volumeCap = z
  .object({
    messages: z.number().int().positive(),
    recipients: z.number().int().positive(),
  })
  .partial()
  .strict();

export const ConfigSchema = z
  .object({
    dataDir: z.string().default('./data'),
    /**
     * The event log: the embedded SQLite store under dataDir (one node), or an
     * EventStoreDB/KurrentDB cluster. Read models stay in SQLite under dataDir either way.
     */
    store: z
      .discriminatedUnion('kind', [
        z
          .object({
            kind: z.literal('sqlite'),
            /**
             * The events file, when not dataDir/events.db: nodes on one machine that share
             * the delivery (cluster.enabled) point here at the same file.
             */
            path: z.string().min(1).optional(),
          })
          .strict(),
        z
          .object({
            kind: z.literal('esdb'),
            connectionString: z.string().regex(ESDB_CONNECTION_STRING, ESDB_CONNECTION_HINT),
            /** How long message bodies are kept in their blob streams ($maxAge). */
            blobMaxAge: duration.prefault('7d'),
          })
          .strict(),
      ])
      .prefault({ kind: 'sqlite' }),
    hostname: z.string().min(1).default(hostname()),
    /**
     * Several relay nodes on one event log sharing the delivery work (docs/scale-out.md):
     * each owns some of the message partitions, proves it is alive by heartbeats, and takes
     * over a dead node's share when its lease runs out. Node name: `hostname`.
     */
    cluster: z
      .object({
        enabled: z.boolean().default(false),
        heartbeat: duration.prefault('5s'),
        lease: duration.prefault('30s'),
      })
      .strict()
      .prefault({})
      .refine((c) => c.heartbeat >= 100, {
        message: 'expected at least 100ms',
        path: ['heartbeat'],
      })
      .refine((c) => c.lease >= 3 * c.heartbeat, {
        message: 'expected lease to be at least 3 heartbeats',
        path: ['lease'],
      }),
    log: z
      .object({
        level: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
          .default('info'),
      })
      .prefault({}),
    smtp: z
      .object({
        listen: listen.prefault('0.0.0.0:587'),
        trustedNetworks: z.array(cidr).default([]),
        bareLineEndings: z.enum(['normalize', 'reject']).default('normalize'),
        maxMessageSize: z
          .number()
          .int()
          .min(65536)
          .default(25 * 1024 * 1024),
        maxRecipients: z.number().int().min(100).default(1000),
        maxLineLength: z.number().int().min(998).default(998),
        /** The header section, in octets and in fields (HTTP submissions too). */
        maxHeaderSize: z
          .number()
          .int()
          .min(8192)
          .default(256 * 1024),
        maxHeaderFields: z.number().int().min(100).default(1000),
        maxClients: z.number().int().positive().default(1000),
        /**
         * Refusals in one session (Postfix's smtpd_soft/hard_error_limit): past `soft` each
         * is answered `sleep` late, past `hard` the client is cut off with 421 4.7.0.
         */
        errorLimits: z
          .object({
            soft: z.number().int().positive().default(10),
            hard: z.number().int().positive().default(20),
            sleep: duration.prefault('1s'),
          })
          .strict()
          .prefault({}),
        /** Connections at once from one address (trusted networks are exempt). */
        maxClientsPerAddress: z.number().int().positive().default(50),
        maxAuthFailures: z.number().int().positive().default(3),
        authFailureDelay: duration.prefault('1s'),
        socketTimeout: duration.prefault('5m'),
        /**
         * Absolute deadlines that a client trickling bytes cannot stretch (slowloris): one
         * command line, one message (354 to the final dot), one connection.
         */
        commandDeadline: duration.prefault('5m'),
        dataDeadline: duration.prefault('10m'),
        sessionDeadline: duration.prefault('30m'),
        /**
         * Failed AUTH across connections: an address past `address` is refused at connect
         * (421 4.7.0) for `ban`; a username past `username` gets 454 4.7.0 at AUTH for
         * `ban`, except from the credential's own allowed networks.
         */
        authBans: z
          .object({ address: authBan(10, '10m', '30m'), username: authBan(30, '10m', '10m') })
          .strict()
          .prefault({}),
        greetingDelay: duration.prefault('0s'),
        tls: z.object({ key: z.string().optional(), cert: z.string().optional() }).prefault({}),
      })
      .prefault({}),
    http: z
      .object({
        listen: listen.prefault('127.0.0.1:8025'),
        /**
         * A bearer token for the event and projection streams (/v1/streams/...) that sees
         * every credential's mail, for data teams; null: only API keys, each seeing its own
         * credential's mail.
         */
        streamToken: z.string().min(24, 'expected at least 24 characters').nullable().default(null),
        /**
         * Reverse proxies in front of the HTTP server (TLS for the tracking base URL, say):
         * from these peers, and only these, the client's address is read from
         * X-Forwarded-For, for tracking events and API keys' allowed networks. Empty: the
         * peer is the client.
         */
        trustedProxies: z.array(cidr).default([]),
        /**
         * The messages one API request may store, in bytes, estimated before any is built: a
         * batch is stored once per recipient (recipient variables, personalizations,
         * tracked copies), so one request with an attachment can make gigabytes.
         */
        maxBatchBytes: z
          .number()
          .int()
          .min(1024 * 1024)
          .default(256 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    dns: z
      .object({
        servers: z.array(dnsServer).default([]),
        timeout: duration.prefault('5s'),
      })
      .prefault({}),
    routes: z.record(z.string(), RouteSchema).default({}),
    delivery: z
      .object({
        /**
         * RFC 8461: recipient domains' MTA-STS policies are honoured. Under one in enforce
         * mode, mail goes only to the MX hosts it names, over TLS with a valid certificate.
         */
        mtaSts: z.boolean().default(true),
        /** CAs trusted besides Node's, for MX hosts' and MTA-STS policy hosts' certificates. */
        caFiles: z.array(pemFile).default([]),
        port: z.number().int().min(1).max(65535).default(25),
        ehloName: z.string().min(1).optional(),
        sourceAddress: z.string().optional(),
        blockLocalAddresses: z.boolean().default(true),
        maxConnectionsPerDomain: z.number().int().positive().default(20),
        maxMessagesPerConnection: z.number().int().positive().default(100),
        maxInFlight: z.number().int().positive().default(500),
        connectTimeout: duration.prefault('30s'),
        idleTimeout: duration.prefault('5s'),
        /**
         * How long a remote may take over any reply. RFC 5321 §4.5.3.2.6 gives the reply to
         * the final dot 10 minutes: giving up sooner risks delivering the message twice.
         */
        replyTimeout: duration.prefault('10m'),
        /**
         * A stop waits this long for the attempts under way, then abandons them: their
         * recipients stay due (one cut after its final dot may be delivered twice).
         */
        stopGrace: duration.prefault('10s'),
      })
      .prefault({}),
    queue: z
      .object({
        retry: z.array(duration).min(1).prefault(['5m', '10m', '20m', '40m', '1h', '2h', '4h']),
        retryJitter: z.number().min(0).max(1).default(0.1),
        maxAge: duration.prefault('4d12h'),
      })
      .prefault({}),
    egress: z
      .object({
        /** A local address to send from and the name to say in EHLO from it. */
        sources: z
          .record(
            z
              .string()
              .regex(/^[A-Za-z0-9_.-]+$/, 'expected a source name of letters, digits, . _ -'),
            z
              .object({
                address: z.string().refine((a) => isIPv4(a) || isIPv6(a), 'expected an IP address'),
                ehlo: z.string().min(1),
              })
              .strict(),
          )
          .default({}),
        /** Weighted sets of sources: `{ mta1: 2, mta2: 1 }` sends two thirds from mta1. */
        pools: z.record(z.string().min(1), z.record(z.string(), z.number().positive())).default({}),
        /** The pool of mail whose credential and headers name none; null: delivery.sourceAddress. */
        defaultPool: z.string().min(1).nullable().default(null),
      })
      .strict()
      .prefault({})
      .superRefine((egress, ctx) => {
        for (const [pool, members] of Object.entries(egress.pools))
          for (const source of Object.keys(members))
            if (!(source in egress.sources))
              ctx.addIssue({
                code: 'custom',
                path: ['pools', pool, source],
                message: `no source named ${source} in egress.sources`,
              });
        if (egress.defaultPool !== null && !(egress.defaultPool in egress.pools))
          ctx.addIssue({
            code: 'custom',
            path: ['defaultPool'],
            message: `no pool named ${egress.defaultPool} in egress.pools`,
          });
      }),
    shaping: z
      .object({
        /** Shaping rule files layered over the built-in one, in order (later wins). */
        files: z.array(z.string().min(1)).default([]),
      })
      .prefault({}),
    bounces: z
      .object({
        /** Bounce rule files consulted before the built-in one, in order (first match wins). */
        files: z.array(z.string().min(1)).default([]),
        /**
         * The return-path domain for mail from domains we do not send for (not onboarded):
         * `bounces.<hostname>` unless set; publish its MX pointing here. null: such mail keeps
         * the sender's own envelope address, and its bounces go there.
         */
        fallbackDomain: z.string().min(3).nullable().optional(),
        /** Where bounce and complaint reports come in (the bounces.<domain> MX); null: off. */
        listen: listen.nullable().prefault('0.0.0.0:25'),
      })
      .prefault({}),
    unsubscribe: z
      .object({
        /**
         * Where one-click unsubscribe links point (RFC 8058): the public https address that
         * reaches this relay's /unsubscribe (http.listen); null: bulk mail gets no
         * List-Unsubscribe from us.
         */
        baseUrl: publicBaseUrl('https://mail.example.com/unsubscribe'),
      })
      .prefault({}),
    tracking: z
      .object({
        /**
         * Where open pixels and click redirects point: the public address that reaches this
         * relay's /t (http.listen), e.g. https://track.example.com/t; null: messages are sent
         * untracked, whatever the API asked.
         */
        baseUrl: publicBaseUrl('https://track.example.com/t'),
      })
      .prefault({}),
    webhooks: z
      .object({
        /**
         * Waits after the 1st, 2nd, ... failed attempt; after the last, the notification is
         * dead-lettered. The default is Mailgun's: about 8 hours in all.
         */
        retry: z.array(duration).min(1).prefault(['10m', '10m', '15m', '30m', '1h', '2h', '4h']),
        /** An endpoint that has not answered by then failed this attempt. */
        timeout: duration.prefault('10s'),
        /** Requests in flight at once, in all and per endpoint. */
        maxInFlight: z.number().int().positive().default(64),
        perEndpoint: z.number().int().positive().default(4),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        /**
         * Rolling volume caps per credential, by name, `*` for every credential (its own
         * entry wins, measure by measure). Past one: SMTP 451/452 4.7.1, HTTP 429.
         */
        credentials: z
          .record(
            z.string().min(1),
            z.object({ hour: volumeCap, day: volumeCap }).partial().strict(),
          )
          .default({}),
      })
      .strict()
      .prefault({}),
    anomalies: z
      .object({
        /** Compare each active credential's last hour with its own past this often. */
        enabled: z.boolean().default(true),
        interval: duration.prefault('1m'),
        /** The last hour over its average hour (the week before) that makes a spike ... */
        spikeFactor: z.number().min(1).default(10),
        /** ... with at least this many messages in the hour. */
        minMessages: z.number().int().positive().default(500),
        /** A credential younger than this has no baseline yet. */
        minHistory: duration.prefault('24h'),
        /** An hourly bounce rate at least this high and this many times its usual one. */
        bounceRate: z.number().min(0).max(1).default(0.1),
        bounceFactor: z.number().min(1).default(3),
        minOutcomes: z.number().int().positive().default(100),
        /** A sending domain it never used before. */
        newDomains: z.boolean().default(true),
        /** Pause the credential on an anomaly (4xx until `credentials resume`). */
        pause: z.boolean().default(false),
        /** Also POST each anomaly (JSON) to this URL: an operator's alerting hook. */
        webhook: z.string().url('expected an http(s) URL').nullable().default(null),
        /** The same anomaly of a credential is reported once per this long. */
        cooldown: duration.prefault('6h'),
      })
      .strict()
      .prefault({}),
    dkim: z
      .object({
        /** Off only to measure what signing costs (the bench); mail should be signed. */
        enabled: z.boolean().default(true),
        /** Also sign every message with this onboarded domain (KumoMTA's additional signature). */
        operatorDomain: z.string().min(3).nullable().default(null),
        /**
         * Threads that sign (about 2,000 small messages a second each, RSA-2048 + Ed25519).
         * null: one per core beyond the first, at most 4.
         */
        signerThreads: z.number().int().min(1).max(64).nullable().default(null),
        /** Retired keys may be removed (`domains prune`) this long after they stopped signing. */
        retiredKeyGrace: duration.prefault('7d'),
      })
      .prefault({}),
    domains: z
      .object({
        /** Bounces come back to `<prefix>.<domain>`, the return-path (MAIL FROM) domain. */
        returnPathPrefix: z
          .string()
          .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'expected one DNS label, e.g. bounces')
          .default('bounces'),
        /** Our outbound IP addresses, for the SPF records we suggest. */
        egressAddresses: z
          .array(z.string().refine((a) => isIPv4(a) || isIPv6(a), 'expected an IP address'))
          .default([]),
      })
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
