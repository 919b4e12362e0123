import { isAscii } from 'node:buffer';
import { setMaxListeners } from 'node:events';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import {
  AttemptAbandoned,
  type Deliverer,
  type DeliveryJob,
} from '../../domain/delivery/delivery-port.js';
import type { AttemptResult } from '../../domain/message/decider.js';
import type { Remote } from '../../domain/message/events.js';
import {
  inspectLineEndings,
  isClean,
  normalizeLineEndings,
} from '../../domain/message-body/line-endings.js';
import type { MtaStsPolicies } from '../../domain/mta-sts/policy.js';
import { parseSmtpReply, rcptRefusal } from '../../domain/smtp-reply/smtp-reply.js';
import { createConnectionPool, type Pooled, type PoolLimits } from './connection-pool.js';
import {
  connectFailureReply,
  smtpUtf8RequiredReply,
  transactionFailureReply,
} from './failure-replies.js';
import { installNodemailerFixes, markCanonical } from './nodemailer-fixes.js';
import {
  type ConnectOptions,
  carries,
  openConnection,
  type Route,
  unlessAbandoned,
} from './open-connection.js';
import { type WireEnvelope, wireEnvelope } from './wire-envelope.js';

export interface SmtpDelivererOptions extends ConnectOptions, PoolLimits {
  /** Per-domain routes; `*` matches any domain. */
  readonly routes: Readonly<Record<string, Route>>;
  /** For jobs that come without a site: connections per domain, messages per connection. */
  readonly maxPerKey: number;
  readonly maxMessagesPerConnection: number;
  /** Recipient domains' MTA-STS policies; without it, none is looked up. */
  readonly mtaSts?: MtaStsPolicies;
}

interface SendError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  rejectedErrors?: Array<{ recipient: string; response: string }>;
}

type SendInfo = SMTPConnection.SentMessageInfo & {
  rejectedErrors?: Array<{ recipient: string; response: string }>;
};

// A connection closed by abandon() drops its pending send without calling back: the
// signal is what ends the wait.
const send = (
  connection: SMTPConnection,
  envelope: SMTPConnection.Envelope & { size: number },
  body: Buffer,
  signal: AbortSignal,
): Promise<SendInfo> =>
  unlessAbandoned(
    new Promise((resolve, reject) =>
      connection.send(envelope, body, (err, info) =>
        err ? reject(err) : resolve(info as SendInfo),
      ),
    ),
    signal,
  );

const noRemote: Remote = { mx: null, ip: null, sourceIp: null, tls: false, esmtp: [] };

/** Delivers over SMTP to the recipients' MX hosts (or a configured route), reusing connections. */
export const createSmtpDeliverer = (options: SmtpDelivererOptions): Deliverer => {
  installNodemailerFixes();
  const pool = createConnectionPool(options);
  const stopping = new AbortController();
  // Every attempt under way listens for the stop: hundreds at once are normal.
  setMaxListeners(0, stopping.signal);

  const attempt = async (
    job: DeliveryJob,
    pooled: Pooled,
    wire: WireEnvelope,
  ): Promise<AttemptResult[]> => {
    // Ingestion already made line endings canonical; this guards anything that reached the
    // log another way, because nodemailer passes a bare CR (`\r.\r`) through untouched.
    const stored = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength);
    const body = markCanonical(
      isClean(inspectLineEndings(stored)) ? stored : Buffer.from(normalizeLineEndings(stored)),
    );
    const info = await send(
      pooled.connection,
      {
        from: wire.from,
        to: wire.to.map((t) => t.wire),
        size: body.length,
        use8BitMime: !isAscii(body),
      },
      body,
      stopping.signal,
    );
    pooled.sent++;
    const remote = pooled.remote;
    const accepted = parseSmtpReply(String(info.response));
    const rejected = new Map((info.rejectedErrors ?? []).map((e) => [e.recipient, e.response]));
    return wire.to.flatMap(({ wire: address, recipients }) => {
      const refusal = rejected.get(address);
      const reply = refusal ? rcptRefusal(parseSmtpReply(refusal)) : accepted;
      return recipients.map((recipient) => ({ recipient, reply, remote }));
    });
  };

  const deliver = async (job: DeliveryJob): Promise<readonly AttemptResult[]> => {
    const domain = job.domain.toLowerCase();
    const route = options.routes[domain] ?? options.routes['*'];
    // A route is the operator's choice of next hop: the domain's MX policy does not apply.
    // Its fetch may take a while: a stop does not wait for it.
    const policy =
      route || !options.mtaSts
        ? null
        : await unlessAbandoned(options.mtaSts.policyFor(domain), stopping.signal);
    const sts = policy?.mode === 'enforce' ? policy : undefined;
    const everyone = (reply: AttemptResult['reply'], remote: Remote): AttemptResult[] =>
      job.recipients.map((recipient) => ({ recipient, reply, remote }));
    // A reused connection the server has since dropped fails at once; that says nothing
    // about this message, so it gets one fresh connection before anything is recorded.
    for (let tries = 0; ; tries++) {
      if (stopping.signal.aborted) throw new AttemptAbandoned();
      let pooled: Pooled;
      try {
        const site = job.site;
        const source = job.source;
        // A message that asks for TLS gets it whatever its site's policy (RFC 8689's spirit),
        // and so does a domain whose MTA-STS policy is enforced.
        const tls = job.requireTls || sts ? 'required' : (site?.tls ?? 'opportunistic');
        const verifyFor =
          job.requireTls && job.verifyTls ? 'the message (o:require-tls)' : undefined;
        // Connections are per site and per source: a source's connections carry its address.
        pooled = await pool.acquire(
          `${site?.key ?? domain}${source ? ` from ${source.name}` : ''}`,
          {
            maxOpen: site?.maxConnections ?? options.maxPerKey,
            maxMessagesPerConnection:
              site?.maxMessagesPerConnection ?? options.maxMessagesPerConnection,
          },
          async () => {
            // The site's connection rate may hold this for minutes: a stop does not wait.
            await unlessAbandoned(site?.beforeConnect?.() ?? Promise.resolve(), stopping.signal);
            return openConnection(
              domain,
              route,
              {
                ...options,
                tls,
                sts,
                verifyFor,
                ...(source ? { sourceAddress: source.address, ehloName: source.ehlo } : {}),
              },
              stopping.signal,
            );
          },
          (connection) => carries(connection, tls, sts, verifyFor !== undefined),
        );
      } catch (error) {
        if (stopping.signal.aborted) throw new AttemptAbandoned();
        // RFC 8461 §5.1: before the next try, look for a newer policy.
        if (sts) options.mtaSts?.recheck(domain);
        // A host that refused to talk is named in the outcome.
        const { remote } = error as { remote?: Remote };
        return everyone(connectFailureReply(error as SendError), remote ?? noRemote);
      }
      const wire = wireEnvelope(job.from, job.recipients, pooled.remote.esmtp.includes('SMTPUTF8'));
      const unsendable = wire.unsendable.map(({ recipient, needs }) => ({
        recipient,
        reply: smtpUtf8RequiredReply(pooled.remote.mx, needs),
        remote: pooled.remote,
      }));
      if (wire.to.length === 0) {
        pool.release(pooled, true);
        return unsendable;
      }
      const reused = pooled.sent > 0;
      try {
        const results = await attempt(job, pooled, wire);
        pool.release(pooled, true);
        return [...unsendable, ...results];
      } catch (raw) {
        pool.release(pooled, false);
        if (stopping.signal.aborted) throw new AttemptAbandoned();
        const error = raw as SendError;
        if (reused && tries === 0 && !error.response) continue;
        const fallback = transactionFailureReply(error);
        // A refused DATA comes without the RCPT refusals; nodemailer keeps them on the envelope.
        const envelope = (
          pooled.connection as unknown as {
            _envelope?: { rejectedErrors?: SendError['rejectedErrors'] };
          }
        )._envelope;
        const rcptRefusals = error.rejectedErrors ?? envelope?.rejectedErrors ?? [];
        const refused = new Map(rcptRefusals.map((e) => [e.recipient, e.response]));
        return [
          ...unsendable,
          ...wire.to.flatMap(({ wire: address, recipients }) => {
            const refusal = refused.get(address);
            const reply = refusal ? rcptRefusal(parseSmtpReply(refusal)) : fallback;
            return recipients.map((recipient) => ({ recipient, reply, remote: pooled.remote }));
          }),
        ];
      }
    }
  };

  return {
    deliver,
    abandon: () => {
      stopping.abort();
      pool.destroyAll();
    },
    close: async () => pool.closeAll(),
  };
};
