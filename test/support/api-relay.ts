import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth';
import { type ParsedMail, simpleParser } from 'mailparser';
import { hashApiKey } from '../../src/adapters/api-keys/api-key.js';
import { createFileKeyStore } from '../../src/adapters/dkim-keys/file-key-store.js';
import { createApiKey } from '../../src/apps/credentials/create-api-key.js';
import { createCredential } from '../../src/apps/credentials/create-credential.js';
import { addSendingDomain } from '../../src/apps/domains/sending-domains.js';
import { dataPaths } from '../../src/apps/relay/data-paths.js';
import { findCredentialByApiKeyHash } from '../../src/projections/credentials/credentials.js';
import { activeSigningKeys } from '../../src/projections/sending-domains/sending-domains.js';
import { type Sink, startSink, startTestRelay, type TestRelay, waitFor } from './relay-harness.js';

export interface ApiRelay {
  readonly relay: TestRelay;
  readonly sink: Sink;
  /** The sending domain the key's credential may use: onboarded, so its mail is signed. */
  readonly domain: string;
  readonly apiKey: string;
  readonly baseUrl: string;
  /** The bytes the sink received for this recipient (waits for them). */
  receivedBytes(recipient: string): Promise<Buffer>;
  /** The same, parsed. */
  received(recipient: string): Promise<ParsedMail>;
  /** The DKIM verdicts on a received message, against the domain's published keys. */
  dkim(bytes: Buffer): Promise<Array<{ readonly result: string; readonly domain: string }>>;
  close(): Promise<void>;
}

/**
 * A relay delivering everything to a smart sink on `sinkHost`, with an onboarded sending
 * domain (DKIM keys and all) and a credential holding an API key for it: what an
 * application team starts with.
 */
export const startApiRelay = async (
  sinkHost: string,
  overrides: Record<string, unknown> = {},
  domain = 'shop.test',
  sinkOptions: Parameters<typeof startSink>[1] = {},
): Promise<ApiRelay> => {
  const saveDir = mkdtempSync(join(tmpdir(), 'mailtrail-sink-'));
  const sink = await startSink(sinkHost, { ...sinkOptions, saveDir });
  const relay = await startTestRelay({
    routes: { '*': `[${sinkHost}]:${sink.port}` },
    ...overrides,
  });
  const added = await addSendingDomain(
    {
      store: relay.store,
      readDb: relay.readDb,
      keyStore: createFileKeyStore(dataPaths(relay.config).keys),
      settings: { egressAddresses: [], bounceHost: 'relay.test', returnPathPrefix: 'bounces' },
      now: Date.now,
    },
    { domain, credential: null },
  );
  const txt = new Map(added.records.filter((r) => r.type === 'TXT').map((r) => [r.name, r.value]));
  await waitFor(() => activeSigningKeys(relay.readDb, [domain]).length > 0, 'signing keys');
  const { id } = await createCredential(relay.store, { name: 'app', domain });
  const { apiKey } = await createApiKey(relay.store, id);
  await waitFor(() => findCredentialByApiKeyHash(relay.readDb, hashApiKey(apiKey)), 'API key');
  const receivedBytes = async (recipient: string): Promise<Buffer> => {
    const t = await waitFor(
      () => sink.transactions.find((x) => x.to.includes(recipient)),
      `mail for ${recipient} at the sink`,
    );
    if (!t.file) throw new Error(`the sink kept no file for ${recipient}`);
    return readFileSync(t.file);
  };
  return {
    relay,
    sink,
    domain,
    apiKey,
    baseUrl: `http://127.0.0.1:${relay.httpPort}`,
    receivedBytes,
    received: async (recipient) => simpleParser(await receivedBytes(recipient)),
    dkim: async (bytes) =>
      (
        await dkimVerify(bytes, {
          resolver: async (name: string, type: string) => {
            const value = type === 'TXT' ? txt.get(name) : undefined;
            if (!value) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
            return [[value]] as never;
          },
        })
      ).results.map((r) => ({ result: r.status.result, domain: r.signingDomain })),
    close: async () => {
      await relay.cleanup();
      await sink.close();
      rmSync(saveDir, { recursive: true, force: true });
    },
  };
};
