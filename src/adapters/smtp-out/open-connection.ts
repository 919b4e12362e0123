import { isIP } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import mxConnect from 'mx-connect';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { AttemptAbandoned } from '../../domain/delivery/delivery-port.js';
import type { Remote } from '../../domain/message/events.js';
import { permitsMx, type StsPolicy } from '../../domain/mta-sts/policy.js';
import type { ResolveRecords } from './dns-resolver.js';
import { tlsFailed } from './failure-replies.js';

export interface Route {
  readonly host: string;
  /** Connect to `host` itself rather than to its MX hosts. */
  readonly direct: boolean;
  readonly port?: number | undefined;
}

export interface ConnectOptions {
  readonly port: number;
  readonly ehloName: string;
  readonly sourceAddress?: string | undefined;
  readonly blockLocalAddresses: boolean;
  readonly connectTimeoutMs: number;
  /** For any reply once connected; the final dot's may take 10 minutes (RFC 5321 §4.5.3.2.6). */
  readonly replyTimeoutMs: number;
  readonly resolveRecords: ResolveRecords;
  /** opportunistic: STARTTLS when offered; required: no TLS, no delivery; off: never. */
  readonly tls?: TlsPolicy;
  /** The CAs a certificate is checked against, where `delivery.caFiles` adds some. */
  readonly secureContext?: SecureContext;
  /**
   * The domain's MTA-STS policy in enforce mode: only the MX hosts it names, over TLS with a
   * certificate valid for the host's name (RFC 8461 §4).
   */
  readonly sts?: StsPolicy | undefined;
  /**
   * Who demands a certificate valid for the MX host's name (the message, with Mailgun's
   * `o:require-tls`), for the refusal to say; an enforced MTA-STS policy demands it too.
   */
  readonly verifyFor?: string | undefined;
}

export type TlsPolicy = 'opportunistic' | 'required' | 'off';

export interface OpenConnection {
  readonly connection: SMTPConnection;
  readonly remote: Remote;
  /** The TCP socket under the SMTP session: the connection exists until it has closed. */
  readonly socket: { once(event: 'close', listener: () => void): unknown };
  /** The policy it was opened under: what it may carry when reused (see `carries`). */
  readonly tlsPolicy: TlsPolicy;
}

/**
 * Whether a connection opened earlier may carry a message sent under this policy. Domains
 * with different policies share a site's connections: one opened in clear under `off`
 * says nothing of whether the server offers STARTTLS, one without TLS never carries a
 * message that requires it, and `off` never takes an encrypted one.
 */
export const carries = (
  connection: OpenConnection,
  policy: TlsPolicy,
  sts?: StsPolicy | undefined,
  verify = false,
): boolean =>
  (connection.remote.tls ? policy !== 'off' : connection.tlsPolicy === policy) &&
  (!(sts || verify) || connection.remote.tlsVerified === true) &&
  (!sts || permitsMx(sts, connection.remote.mx ?? ''));

/**
 * The work's value, or AttemptAbandoned as soon as the signal fires; what the work gives
 * after that is handed to `undo` (a socket to close).
 */
export const unlessAbandoned = <T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  undo: (value: T) => void = () => {},
): Promise<T> => {
  if (!signal) return work;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      work.then(undo, () => {});
      reject(new AttemptAbandoned());
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
};

const handshake = (connection: SMTPConnection): Promise<void> =>
  new Promise((resolve, reject) => {
    connection.once('error', reject);
    // A close before the greeting comes to the callback, not as an 'error'.
    connection.connect((error?: Error) => {
      connection.off('error', reject);
      if (error) reject(error);
      else resolve();
    });
  });

interface MxHost {
  readonly exchange: string;
  readonly priority: number;
  readonly A?: string[];
  readonly AAAA?: string[];
}

/** One named host at one address: a route's target, or the MX host to try again in clear. */
const pinned = (host: string, ip: string = host): MxHost[] => [
  {
    exchange: host,
    priority: 0,
    ...(isIP(ip) === 4 ? { A: [ip] } : {}),
    ...(isIP(ip) === 6 ? { AAAA: [ip] } : {}),
  },
];

/** What went wrong with one host once connected, and which host it was. */
type HostTrouble = Error & { remote?: Remote; duringTls?: boolean; response?: string };

const serverReplied = (e: HostTrouble): boolean => /^[45]\d\d/.test(e.response ?? '');

const dnsTrouble = (error: Error, temporary: boolean): Error =>
  Object.assign(error, { category: 'dns', temporary });

/**
 * The MX hosts an enforced MTA-STS policy lets the mail go to, best first (RFC 8461 §4.1).
 * A domain without MX records has its own name as its host, which the policy must name
 * too. The lookup is this one, and mx-connect is handed its answer: a second lookup could
 * be answered differently, with hosts the policy was never asked about.
 */
const permittedMx = async (
  domain: string,
  sts: StsPolicy,
  resolveRecords: ResolveRecords,
): Promise<MxHost[]> => {
  let records: Array<{ exchange: string; priority: number }>;
  try {
    records = (await resolveRecords(domain, 'MX')) as typeof records;
  } catch (raw) {
    const error = raw as NodeJS.ErrnoException;
    if (error.code === 'ENODATA') records = [];
    // RFC 5321 §5.1: a domain that does not exist takes no mail, policy or not.
    else if (error.code === 'ENOTFOUND' || error.code === 'NXDOMAIN')
      throw dnsTrouble(new Error(`the domain ${domain} does not exist`), false);
    else throw dnsTrouble(error, true);
  }
  const hosts = records.length ? records : [{ exchange: domain, priority: 0 }];
  if (hosts.some((h) => h.exchange === '' || h.exchange === '.'))
    throw Object.assign(dnsTrouble(new Error(`${domain} takes no mail (null MX)`), false), {
      code: 'ENULLMX',
    });
  const permitted = hosts.filter((h) => permitsMx(sts, h.exchange));
  if (permitted.length === 0)
    throw Object.assign(
      new Error(
        `the MTA-STS policy of ${domain} (enforce) permits none of its MX hosts (${hosts
          .map((h) => h.exchange)
          .join(', ')})`,
      ),
      { category: 'policy' },
    );
  return permitted
    .sort((a, b) => a.priority - b.priority)
    .map((h) => ({ exchange: h.exchange, priority: h.priority }));
};

/** At most this many hosts tried in one go, as mx-connect has it. */
const MAX_HOSTS = 20;

/**
 * Connects to a domain's mail exchangers the way RFC 5321 §5.1 says: MX hosts in preference
 * order, falling back to the next, A/AAAA when there is no MX, and never to a null MX.
 * mx-connect does the walking; nodemailer speaks SMTP over the socket it returns, with
 * opportunistic STARTTLS (a self-signed or failed certificate does not stop delivery).
 * A host that connects but will not start a session (a 421 or 554 greeting or reply to
 * EHLO, a hang-up, silence; no TLS where it is required, or under MTA-STS no valid
 * certificate) is passed over for the next, as Postfix does; with none left, its trouble is
 * the outcome. Under `opportunistic`, a host whose TLS handshake fails is tried again in
 * clear (Postfix's level `may` does the same): otherwise a server with broken TLS would get
 * nothing until the message expired.
 */
export const openConnection = async (
  domain: string,
  route: Route | undefined,
  options: ConnectOptions,
  /** Fired when the relay stops: the connection is given up wherever it is. */
  signal?: AbortSignal,
): Promise<OpenConnection> => {
  const skipped = new Set<string>();
  // The host passed over whose trouble is the outcome should none be left.
  let refusal: HostTrouble | undefined;
  const opportunistic = (options.tls ?? 'opportunistic') === 'opportunistic' && !options.sts;
  // The host whose TLS handshake failed, to be tried again in clear.
  let inClear: { readonly mx: string; readonly ip: string } | undefined;
  for (;;) {
    const clear = inClear;
    inClear = undefined;
    try {
      if (!clear) return await connectOnce(domain, route, options, skipped, signal);
      const plain = await connectOnce(
        domain,
        { host: clear.mx, direct: true, port: route?.port },
        { ...options, tls: 'off' },
        skipped,
        signal,
        clear.ip,
      );
      return { ...plain, tlsPolicy: 'opportunistic' };
    } catch (raw) {
      const error = raw as HostTrouble;
      if (error instanceof AttemptAbandoned) throw error;
      const host = error.remote;
      if (!clear && opportunistic && host?.mx && host.ip && tlsFailed(error)) {
        inClear = { mx: host.mx, ip: host.ip };
        continue;
      }
      // Connected, and the host would not or could not start a session (a refusal, a
      // hang-up or silence before EHLO, no TLS where it is required): nothing was said of
      // the mail, so the next MX is tried, as Postfix does. The outcome, should none be
      // left, is the first host's trouble, or the first a server put in words.
      if (host?.ip) {
        if (!refusal || (!serverReplied(refusal) && serverReplied(error))) refusal = error;
        // mx-connect passes over the hosts named here; one named already answered again
        // (it should not), so the walk ends rather than go round.
        if (skipped.has(host.ip) || skipped.size >= MAX_HOSTS) throw refusal;
        skipped.add(host.ip);
        continue;
      }
      // The hosts left could not be reached at all: one that was reached says more.
      throw refusal ?? error;
    }
  }
};

const connectOnce = async (
  domain: string,
  route: Route | undefined,
  options: ConnectOptions,
  skipped: ReadonlySet<string>,
  signal: AbortSignal | undefined,
  ip?: string,
): Promise<OpenConnection> => {
  if (signal?.aborted) throw new AttemptAbandoned();
  const target = route && !route.direct ? route.host : domain;
  const mx = route?.direct
    ? pinned(route.host, ip)
    : options.sts
      ? await unlessAbandoned(permittedMx(target, options.sts, options.resolveRecords), signal)
      : undefined;
  const requireTls = options.tls === 'required' || options.sts !== undefined;
  const socketInfo = await unlessAbandoned(
    mxConnect({
      target,
      port: route?.port ?? options.port,
      maxConnectTime: options.connectTimeoutMs,
      ...(mx ? { mx } : {}),
      ...(options.sourceAddress ? { localAddress: options.sourceAddress } : {}),
      localHostname: options.ehloName,
      ignoreMXHosts: [...skipped],
      dnsOptions: {
        blockLocalAddresses: options.blockLocalAddresses,
        resolveRecords: options.resolveRecords,
      },
    }),
    signal,
    (late) => late.socket.destroy(),
  );
  const connection = new SMTPConnection({
    connection: socketInfo.socket,
    host: socketInfo.hostname,
    port: socketInfo.port,
    name: options.ehloName,
    opportunisticTLS: !requireTls && options.tls !== 'off',
    requireTLS: requireTls,
    ignoreTLS: !requireTls && options.tls === 'off',
    // The certificate is checked whatever the policy (see `verified`); only an enforced
    // MTA-STS policy or a message's o:require-tls refuses a host for it, once connected, so
    // the refusal says which.
    tls: {
      rejectUnauthorized: false,
      servername: isIP(socketInfo.hostname) ? undefined : socketInfo.hostname,
      ...(options.secureContext ? { secureContext: options.secureContext } : {}),
    },
    greetingTimeout: options.connectTimeoutMs,
    socketTimeout: options.replyTimeoutMs,
  } as SMTPConnection.Options);
  const extensions = (): string[] =>
    (connection as unknown as { _supportedExtensions: string[] })._supportedExtensions;
  // Checked whatever the policy (Node checks the chain and the name even where it does not
  // refuse for them): an operator and Mailgun's webhooks want to know.
  const verified = (): boolean =>
    connection.secure &&
    (connection as unknown as { _socket: Partial<TLSSocket> })._socket.authorized === true;
  const remote = (): Remote => ({
    mx: socketInfo.hostname,
    ip: socketInfo.host,
    sourceIp: socketInfo.localAddress ?? null,
    tls: connection.secure,
    ...(connection.secure ? { tlsVerified: verified() } : {}),
    esmtp: [...extensions()],
  });
  try {
    await unlessAbandoned(handshake(connection), signal);
  } catch (error) {
    connection.close();
    // Which host it was: the next attempt passes it over, and the outcome names it.
    if (error instanceof Error && !(error instanceof AttemptAbandoned))
      Object.assign(error, {
        remote: remote(),
        duringTls: (connection as unknown as { upgrading?: boolean }).upgrading === true,
      });
    throw error;
  }
  // The host reached is the one asked about: the policy is held to it, not to a lookup.
  if (options.sts && !permitsMx(options.sts, socketInfo.hostname)) {
    connection.close();
    throw Object.assign(
      new Error(`the MTA-STS policy of ${domain} (enforce) does not name ${socketInfo.hostname}`),
      { category: 'policy', remote: remote() },
    );
  }
  const demandedBy = options.sts ? `the MTA-STS policy of ${domain}` : options.verifyFor;
  if (demandedBy && !verified()) {
    const tlsSocket = (connection as unknown as { _socket: Partial<TLSSocket> })._socket;
    connection.close();
    throw Object.assign(
      new Error(
        `the TLS certificate of ${socketInfo.hostname} is not valid for it (${String(
          tlsSocket.authorizationError ?? 'no TLS',
        )}), and ${demandedBy} requires one that is`,
      ),
      { code: 'ECERT', remote: remote() },
    );
  }
  return {
    connection,
    socket: socketInfo.socket,
    remote: remote(),
    tlsPolicy: requireTls ? 'required' : (options.tls ?? 'opportunistic'),
  };
};
