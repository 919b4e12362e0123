import type { SMTPServerOptions } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { installFastDataScan } from './data-scan.js';

/** smtp-server's options plus the ones these fixes read. */
export type FixedServerOptions = SMTPServerOptions & { greetingDelayMs?: number };

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
 */

const EXPLICIT = /^[245]\.\d{1,3}\.\d{1,3} /;
const MAX_COMMAND_OCTETS = 1000;

interface PatchableConnection {
  secure: boolean;
  _server: {
    options: { maxClients?: number; greetingDelayMs?: number };
    connections: Set<unknown>;
  };
  name: string;
  _setListeners(callback: () => void): void;
  connectionReady(): void;
  init(): void;
  send(code: number, data?: string | string[], context?: string | false): void;
  _getEnhancedStatusCode(code: number, context?: string | false): string;
  _onCommand(command: Buffer, callback: () => void): void;
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
  const onCommand = proto._onCommand;
  proto._onCommand = function patchedOnCommand(this: PatchableConnection, command, callback) {
    if (command.length > MAX_COMMAND_OCTETS) {
      this.send(500, '5.5.2 Line too long', false);
      return setImmediate(callback);
    }
    return onCommand.call(this, command, callback);
  };
  // Mirrors stock init(), with the early-talker wait taken from the options.
  proto.init = function patchedInit(this: PatchableConnection) {
    this._setListeners(() => {
      const { maxClients, greetingDelayMs = 100 } = this._server.options;
      if (maxClients && this._server.connections.size > maxClients)
        return this.send(
          421,
          `${this.name} Too many connected clients, try again in a moment`,
          false,
        );
      if (greetingDelayMs <= 0) return this.connectionReady();
      setTimeout(() => this.connectionReady(), greetingDelayMs).unref();
    });
  };
};
