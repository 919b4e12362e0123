import type { SMTPServerOptions } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { installFastDataScan } from './data-scan.js';
import type { OnLimit } from './limit-reason.js';

/** smtp-server's options plus the ones these fixes read. */
export type FixedServerOptions = SMTPServerOptions & {
  greetingDelayMs?: number;
  /** Told of each client refused or cut short by a limit these fixes enforce. */
  onLimit?: OnLimit;
};

/**
 * Fixes to stock smtp-server, applied once to its connection class:
 *
 * 1. Enhanced status codes: smtp-server derives them from the basic code alone (every 550
 *    reads 5.1.1), so a handler cannot say 5.7.1 or 5.6.0. A reply whose text already starts
 *    with an enhanced code is sent as it is; a derived code whose class contradicts the basic
 *    code is replaced by the class default.
 * 2. AUTH before STARTTLS: stock answers with the non-standard 538; we answer 530 5.7.0, the
 *    usual reply (RFC 3207 practice), and do not advertise AUTH in EHLO before TLS.
 * 3. Command lines over 1,000 octets get `500 5.5.2 Line too long` (RFC 5321 §4.5.3.1.4
 *    allows 512; extensions add parameters) instead of being executed.
 * 4. The greeting: stock waits a fixed 100 ms to catch early talkers (an MX-side spam
 *    check), which caps a client that opens a connection per message at ten a second. The
 *    wait is the server option `greetingDelayMs` (Postfix's smtpd has none).
 * 5. DATA is read with a native scan for "\n." instead of a JavaScript loop over every
 *    byte (data-scan.ts; same output, checked against stock by the data-scan test).
 * 6. Unauthenticated pipelining (Postfix's smtpd_forbid_unauth_pipelining): a client that
 *    has not authenticated and sends more after DATA, EHLO or HELO before our reply (a
 *    whole transaction before the 354, the smuggling setup) gets `554 5.5.0 Error: SMTP
 *    protocol synchronization` and is disconnected. RFC 2920 makes these commands the last
 *    of a pipelined group.
 * 7. Deadlines: each connection notes when it opened and when its last command line came,
 *    for connection-limits.ts to enforce absolute deadlines that trickling cannot reset.
 */

const EXPLICIT = /^[245]\.\d{1,3}\.\d{1,3} /;
const MAX_COMMAND_OCTETS = 1000;

/** Where the parser is in the text it is splitting into command lines. */
interface LineScan {
  readonly data: string;
  pos: number;
}

interface PatchableStream {
  _dataMode: boolean;
  _remainder: string;
  _scan: LineScan | null;
  /** Node's Writable state: chunks queued behind the one being parsed. */
  _writableState?: { buffered?: unknown[]; bufferedIndex?: number };
  _write(chunk: Buffer, encoding: string, next: (error?: Error) => void): void;
}

/** Commands a pipelining client must wait after (RFC 2920 §3.1), as we enforce it. */
const LAST_IN_GROUP = new Set(['DATA', 'EHLO', 'HELO']);

interface PatchableConnection {
  secure: boolean;
  remoteAddress: string;
  session?: { user?: unknown };
  _parser?: PatchableStream | false;
  _socket: { readableLength: number };
  _openedAt?: number;
  _lastCommandAt?: number;
  _server: {
    options: FixedServerOptions;
    connections: Set<unknown>;
  };
  name: string;
  _setListeners(callback: () => void): void;
  connectionReady(): void;
  init(): void;
  close(): void;
  send(code: number, data?: string | string[], context?: string | false): void;
  _getEnhancedStatusCode(code: number, context?: string | false): string;
  _onCommand(command: Buffer, callback: () => void): void;
  _onTimeout(): void;
  _closing?: boolean;
  _handlerPending?: boolean;
  _dataStream?: unknown;
}

let installed = false;

export const installSmtpServerFixes = (): void => {
  if (installed) return;
  installed = true;
  installFastDataScan();
  const proto = SMTPConnection.prototype as unknown as PatchableConnection;
  const send = proto.send;
  proto.send = function patchedSend(this: PatchableConnection, code, data, context) {
    if (code === 538)
      return send.call(this, 530, '5.7.0 Must issue a STARTTLS command first', false);
    if (code === 250 && context === false && Array.isArray(data) && !this.secure)
      return send.call(
        this,
        code,
        data.filter((line) => !/^AUTH\b/i.test(line)),
        context,
      );
    if (typeof data === 'string' && EXPLICIT.test(data)) return send.call(this, code, data, false);
    const derived = this._getEnhancedStatusCode(code, context);
    if (derived && derived[0] !== String(code)[0])
      return send.call(this, code, `${String(code)[0]}.0.0 ${data ?? ''}`.trim(), false);
    return send.call(this, code, data, context);
  };
  const stream = SMTPStream.prototype as unknown as PatchableStream;
  const write = stream._write;
  stream._write = function scanningWrite(this: PatchableStream, chunk, encoding, next) {
    // The text the stock loop splits into lines; onCommand follows its position in it.
    this._scan =
      !this._dataMode && chunk?.length
        ? { data: this._remainder + chunk.toString('latin1'), pos: 0 }
        : null;
    return write.call(this, chunk, encoding, next);
  };
  /** Whether the client has sent anything past this command line yet. */
  const sentAhead = (connection: PatchableConnection, command: Buffer): boolean => {
    const parser = connection._parser;
    if (!parser) return false;
    const scan = parser._scan;
    if (scan) {
      scan.pos += command.length;
      scan.pos += scan.data[scan.pos] === '\r' ? 2 : 1;
    }
    const queued = parser._writableState;
    return (
      (scan !== null && scan.pos < scan.data.length) ||
      (queued?.buffered?.length ?? 0) > (queued?.bufferedIndex ?? 0) ||
      connection._socket.readableLength > 0
    );
  };
  const onCommand = proto._onCommand;
  proto._onCommand = function patchedOnCommand(this: PatchableConnection, command, callback) {
    this._lastCommandAt = Date.now();
    const ahead = sentAhead(this, command);
    if (command.length > MAX_COMMAND_OCTETS) {
      this._server.options.onLimit?.('command-length', this.remoteAddress);
      this.send(500, '5.5.2 Line too long', false);
      return setImmediate(callback);
    }
    const name = command.toString('latin1', 0, 5).trim().toUpperCase();
    if (ahead && !this.session?.user && LAST_IN_GROUP.has(name)) {
      this._server.options.onLimit?.('pipelining', this.remoteAddress);
      this.send(554, '5.5.0 Error: SMTP protocol synchronization', false);
      this.close();
      return setImmediate(callback);
    }
    return onCommand.call(this, command, callback);
  };
  const onTimeout = proto._onTimeout;
  proto._onTimeout = function countedTimeout(this: PatchableConnection) {
    // Mirrors stock: only a client that owes us input times out.
    const owesInput =
      !this._closing &&
      !this._handlerPending &&
      !(this._dataStream && this._parser && !this._parser._dataMode);
    if (owesInput) this._server.options.onLimit?.('idle-timeout', this.remoteAddress);
    return onTimeout.call(this);
  };
  // Mirrors stock init(), with the early-talker wait taken from the options.
  proto.init = function patchedInit(this: PatchableConnection) {
    this._openedAt = Date.now();
    this._setListeners(() => {
      const { maxClients, greetingDelayMs = 100 } = this._server.options;
      if (maxClients && this._server.connections.size > maxClients) {
        this._server.options.onLimit?.('connections-total', this.remoteAddress);
        return this.send(
          421,
          `4.7.0 ${this.name} Too many connected clients, try again in a moment`,
          false,
        );
      }
      if (greetingDelayMs <= 0) return this.connectionReady();
      setTimeout(() => this.connectionReady(), greetingDelayMs).unref();
    });
  };
};
