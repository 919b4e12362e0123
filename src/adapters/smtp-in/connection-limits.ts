import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import type { NetworkMatcher } from '../../domain/network/network-matcher.js';
import type { OnLimit } from './limit-reason.js';
import { smtpError } from './smtp-error.js';

export interface ConnectionLimitOptions {
  /** Connections at once from one client address; trusted networks are exempt. */
  readonly maxPerAddress: number;
  readonly exempt: NetworkMatcher;
  /** The application's refusal of an address (a brute-force ban), or null. */
  readonly refusal: (address: string) => string | null;
  readonly onLimit: OnLimit;
}

type Callback = (err?: Error | null) => void;

/**
 * Per-address connection counts, checked in onConnect (stock smtp-server has only the
 * global maxClients): the one over the limit gets 421 4.7.0, another address is not
 * affected. Counted only once admitted, released when the connection closes.
 */
export const createConnectionLimits = (options: ConnectionLimitOptions) => {
  const open = new Map<string, number>();
  const counted = new Set<string>();
  return {
    onConnect: (session: SMTPServerSession, callback: Callback) => {
      const address = session.remoteAddress;
      const banned = options.refusal(address);
      if (banned) {
        options.onLimit('banned-address', address);
        return callback(smtpError(421, '4.7.0', banned));
      }
      const count = open.get(address) ?? 0;
      if (!options.exempt(address) && count >= options.maxPerAddress) {
        options.onLimit('connections-per-address', address);
        return callback(
          smtpError(421, '4.7.0', `Too many connections from ${address}, try again later`),
        );
      }
      open.set(address, count + 1);
      counted.add(session.id);
      callback();
    },
    onClose: (session: SMTPServerSession) => {
      if (!counted.delete(session.id)) return;
      const left = (open.get(session.remoteAddress) ?? 1) - 1;
      if (left > 0) open.set(session.remoteAddress, left);
      else open.delete(session.remoteAddress);
    },
  };
};

export interface DeadlineOptions {
  /** To send one whole command line, however slowly its bytes trickle in. */
  readonly commandMs: number;
  /** To send a whole message, from the 354 to the final dot. */
  readonly dataMs: number;
  /** For a whole connection. */
  readonly sessionMs: number;
  readonly onLimit: OnLimit;
}

/** The smtp-server connection internals the deadlines read (see smtp-server-fixes.ts). */
interface WatchedConnection {
  readonly remoteAddress: string;
  readonly _closing?: boolean;
  readonly _handlerPending?: boolean;
  readonly _dataStream?: unknown;
  readonly _parser?: { readonly _dataMode?: boolean } | false | undefined;
  /** Set by the fixes: when the connection opened and its last command line arrived. */
  _openedAt?: number;
  _lastCommandAt?: number;
  /** Set here: when the current DATA started. */
  _dataSince?: number | undefined;
  send(code: number, data: string, context?: false): void;
  close(): void;
}

const SWEEP_MS = 1000;

/**
 * Absolute deadlines, on top of the idle timeout that any trickled byte resets (a 1 byte
 * per 1.5 s client kept a 2 s-timeout session alive for 29 s): a command line, a message
 * and a session each have a time they must be done in. Time the client spends waiting
 * for our reply does not count. Checked once a second over the server's connections.
 */
export const watchDeadlines = (server: SMTPServer, options: DeadlineOptions): (() => void) => {
  const connections = (server as unknown as { connections: Set<WatchedConnection> }).connections;
  const cut = (c: WatchedConnection, reason: Parameters<OnLimit>[0], text: string) => {
    options.onLimit(reason, c.remoteAddress);
    c.send(421, `4.4.2 ${text}, closing connection`, false);
    c.close();
  };
  const timer = setInterval(() => {
    const now = Date.now();
    for (const c of connections) {
      if (c._closing || c._openedAt === undefined) continue;
      if (now - c._openedAt > options.sessionMs) {
        cut(c, 'session-deadline', 'Session time limit reached');
        continue;
      }
      const inData = c._parser !== false && c._parser?._dataMode === true;
      if (inData) {
        c._dataSince ??= now;
        if (now - c._dataSince > options.dataMs) cut(c, 'data-deadline', 'Message took too long');
        continue;
      }
      c._dataSince = undefined;
      // The client waits for us (a handler, or the message being stored): its clock stops.
      if (c._handlerPending || c._dataStream) {
        c._lastCommandAt = now;
        continue;
      }
      if (now - (c._lastCommandAt ?? c._openedAt) > options.commandMs)
        cut(c, 'command-deadline', 'Command took too long');
    }
  }, SWEEP_MS);
  timer.unref();
  return () => clearInterval(timer);
};
