import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ParsedMail, simpleParser } from 'mailparser';
import { hashApiKey } from '../../src/adapters/api-keys/api-key.js';
import { createApiKey } from '../../src/apps/credentials/create-api-key.js';
import { createCredential } from '../../src/apps/credentials/create-credential.js';
import { findCredentialByApiKeyHash } from '../../src/projections/credentials/credentials.js';
import { onboardDomain } from './fixtures.js';
import { type Sink, startSink, startTestRelay, type TestRelay, waitFor } from './relay-harness.js';

export interface ApiRelay {
  readonly relay: TestRelay;
  readonly sink: Sink;
  /** The sending domain the key's credential may use: onboarded, so its mail is signed. */
  readonly domain: string;
  readonly apiKey: string;
  readonly baseUrl: string;
  /** What the sink received for this recipient, parsed. */
  received(recipient: string): Promise<ParsedMail>;
  close(): Promise<void>;
}

/**
 * A relay delivering everything to a smart sink on `sinkHost`, with an onboarded sending
 * domain and a credential holding an API key for it: what an application team starts with.
 */
export const startApiRelay = async (
  sinkHost: string,
  overrides: Record<string, unknown> = {},
  domain = 'shop.test',
): Promise<ApiRelay> => {
  const saveDir = mkdtempSync(join(tmpdir(), 'mailtrail-sink-'));
  const sink = await startSink(sinkHost, { saveDir });
  const relay = await startTestRelay({
    routes: { '*': `[${sinkHost}]:${sink.port}` },
    ...overrides,
  });
  await onboardDomain(relay, domain);
  const { id } = await createCredential(relay.store, { name: 'app', domain });
  const { apiKey } = await createApiKey(relay.store, id);
  await waitFor(() => findCredentialByApiKeyHash(relay.readDb, hashApiKey(apiKey)), 'API key');
  return {
    relay,
    sink,
    domain,
    apiKey,
    baseUrl: `http://127.0.0.1:${relay.httpPort}`,
    received: async (recipient) => {
      const t = await waitFor(
        () => sink.transactions.find((x) => x.to.includes(recipient)),
        `mail for ${recipient} at the sink`,
      );
      if (!t.file) throw new Error(`the sink kept no file for ${recipient}`);
      return simpleParser(readFileSync(t.file));
    },
    close: async () => {
      await relay.cleanup();
      await sink.close();
      rmSync(saveDir, { recursive: true, force: true });
    },
  };
};
