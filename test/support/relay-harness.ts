import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { pino } from 'pino';
import { parseConfig } from '../../src/apps/config/load-config.js';
import type { Config } from '../../src/apps/config/schema.js';
import { type RunningRelay, startRelay } from '../../src/apps/relay/relay.js';
import { createSmartSink, type SinkTransaction } from '../../src/apps/sink/smart-sink.js';

export interface Sink {
  readonly port: number;
  readonly transactions: SinkTransaction[];
  peakConnections(from?: string): number;
  close(): Promise<void>;
}

export const startSink = async (
  host = '127.0.0.1',
  options: Parameters<typeof createSmartSink>[0] = {},
  /** 0: any free port; several MXes on one delivery port take the first one's. */
  listenPort = 0,
): Promise<Sink> => {
  const transactions: SinkTransaction[] = [];
  const sink = createSmartSink({ ...options, onTransaction: (t) => transactions.push(t) });
  const port = await sink.listen(listenPort, host);
  return { port, transactions, peakConnections: sink.peakConnections, close: () => sink.close() };
};

export interface TestRelay extends RunningRelay {
  readonly config: Config;
  readonly dir: string;
  cleanup(): Promise<void>;
}

/**
 * A relay on ephemeral loopback ports with its own data folder (or an earlier relay's, given
 * as `dataDir`: a restart). `overrides` is YAML-shaped.
 */
export const startTestRelay = async (
  overrides: Record<string, unknown> = {},
  /** Where the relay's log lines go (JSON, one per call); none: silent. */
  logLines?: string[],
): Promise<TestRelay> => {
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-test-'));
  const o = overrides as Record<string, Record<string, unknown> | undefined>;
  const config = parseConfig({
    ...overrides,
    dataDir: (overrides.dataDir as string | undefined) ?? join(dir, 'data'),
    hostname: 'relay.test',
    log: { level: 'silent' },
    smtp: { listen: '127.0.0.1:0', authFailureDelay: '10ms', ...o.smtp },
    http: { ...o.http, listen: '127.0.0.1:0' },
    bounces: { listen: '127.0.0.1:0', ...o.bounces },
    delivery: { blockLocalAddresses: false, idleTimeout: '2s', ...o.delivery },
  });
  const log = logLines
    ? pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) })
    : pino({ level: 'silent' });
  const relay = await startRelay(config, log);
  return {
    ...relay,
    config,
    dir,
    cleanup: async () => {
      await relay.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

export const waitFor = async <T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

/** Submits a message over SMTP from a trusted network (no TLS, no AUTH); returns its id. */
export const submit = async (
  port: number,
  to: string[],
  extra: Record<string, unknown> = {},
): Promise<string> => {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true });
  const info = await transport.sendMail({
    from: 'app@sender.test',
    to,
    subject: 'test',
    text: 'hello',
    ...extra,
  });
  const id = /queued as (\S+)$/.exec(info.response)?.[1];
  if (!id) throw new Error(`unexpected reply: ${info.response}`);
  return id;
};
