import { isIP } from 'node:net';
import mxConnect from 'mx-connect';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { AttemptAbandoned } from '../../domain/delivery/delivery-port.js';
import type { Remote } from '../../domain/message/events.js';
import type { ResolveRecords } from './dns-resolver.js';
import { refusedToTalk, tlsFailed } from './failure-replies.js';

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
export const carries = (connection: OpenConnection, policy: TlsPolicy): boolean =>
  connection.remote.tls ? policy !== 'off' : connection.tlsPolicy === policy;

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
    connection.connect(() => {
      connection.off('error', reject);
      resolve();
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
type HostTrouble = Error & { remote?: Remote; duringTls?: boolean };

/** At most this many hosts tried in one go, as mx-connect has it. */
const MAX_HOSTS = 20;

/**
 * Connects to a domain's mail exchangers the way RFC 5321 §5.1 says: MX hosts in preference
 * order, falling back to the next, A/AAAA when there is no MX, and never to a null MX.
 * mx-connect does the walking; nodemailer speaks SMTP over the socket it returns, with
 * opportunistic STARTTLS (a self-signed or failed certificate does not stop delivery).
 * A host that will not talk (a 421 or 554 greeting) is passed over for the next, as Postfix
 * does; with none left, its reply is the outcome. Under `opportunistic`, a host whose TLS
 * handshake fails is tried again in clear (Postfix's level `may` does the same): otherwise a
 * server with broken TLS would get nothing until the message expired.
 */
export const openConnection = async (
  domain: string,
  route: Route | undefined,
  options: ConnectOptions,
  /** Fired when the relay stops: the connection is given up wherever it is. */
  signal?: AbortSignal,
): Promise<OpenConnection> => {
  const skipped = new Set<string>();
  let refusal: HostTrouble | undefined;
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
      const host = error.remote;
      if (host?.ip && refusedToTalk(error)) {
        refusal ??= error;
        // mx-connect passes over the hosts named here; one named already answered again
        // (it should not), so the walk ends rather than go round.
        if (skipped.has(host.ip) || skipped.size >= MAX_HOSTS) throw refusal;
        skipped.add(host.ip);
        continue;
      }
      const opportunistic = (options.tls ?? 'opportunistic') === 'opportunistic';
      if (!clear && opportunistic && host?.mx && host.ip && tlsFailed(error)) {
        inClear = { mx: host.mx, ip: host.ip };
        continue;
      }
      // The hosts left could not be reached at all: the one that refused says more.
      throw refusal && !(error instanceof AttemptAbandoned) ? refusal : error;
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
  const mx = route?.direct ? pinned(route.host, ip) : undefined;
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
    opportunisticTLS: options.tls !== 'required' && options.tls !== 'off',
    requireTLS: options.tls === 'required',
    ignoreTLS: options.tls === 'off',
    tls: {
      rejectUnauthorized: false,
      servername: isIP(socketInfo.hostname) ? undefined : socketInfo.hostname,
    },
    greetingTimeout: options.connectTimeoutMs,
    socketTimeout: options.replyTimeoutMs,
  } as SMTPConnection.Options);
  const extensions = (): string[] =>
    (connection as unknown as { _supportedExtensions: string[] })._supportedExtensions;
  const remote = (): Remote => ({
    mx: socketInfo.hostname,
    ip: socketInfo.host,
    sourceIp: socketInfo.localAddress ?? null,
    tls: connection.secure,
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
  return {
    connection,
    socket: socketInfo.socket,
    remote: remote(),
    tlsPolicy: options.tls ?? 'opportunistic',
  };
};
