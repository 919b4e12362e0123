import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Sink, startTestRelay, type TestRelay, waitFor } from './relay-harness.js';

/**
 * The relay under test with a shaping file holding `rules` (YAML lines), each domain routed
 * to its sink on its own loopback address; `overrides` adds config (egress sources, ...).
 */
export const startShapedRelay = async (
  rules: readonly string[],
  sites: Readonly<Record<string, { readonly host: string; readonly sink: Sink }>>,
  overrides: Record<string, unknown> = {},
): Promise<TestRelay> => {
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-shaping-'));
  const file = join(dir, 'shaping.yaml');
  writeFileSync(file, [...rules, ''].join('\n'));
  const relay = await startTestRelay({
    smtp: { trustedNetworks: ['127.0.0.1/32'] },
    routes: Object.fromEntries(
      Object.entries(sites).map(([domain, { host, sink }]) => [domain, `[${host}]:${sink.port}`]),
    ),
    shaping: { files: [file] },
    ...overrides,
  });
  return {
    ...relay,
    cleanup: async () => {
      await relay.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** The first event of this type in the log, once there is one. */
export const firstEvent = (relay: Pick<TestRelay, 'store'>, type: string) =>
  waitFor(async () => {
    for await (const e of relay.store.readAll({ filter: { eventTypes: [type] } })) return e;
    return undefined;
  }, type);

/** Every event of these types in the log so far. */
export const eventsOf = async (relay: Pick<TestRelay, 'store'>, ...types: string[]) => {
  const found = [];
  for await (const e of relay.store.readAll({ filter: { eventTypes: types } })) found.push(e);
  return found;
};
