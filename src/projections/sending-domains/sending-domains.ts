import type { RecordedEvent } from '../../domain/event-store/event-store.js';
import {
  type DkimAlgorithm,
  DOMAIN_STREAM_PREFIX,
  type SendingDomainEvent,
} from '../../domain/sending-domain/events.js';
import { liveTables, type Projection } from '../runner/projection.js';
import { type ReadModelDb, statement } from '../runner/read-model-db.js';

/** Sending domains, who owns them, and every DKIM key with its state: what signing reads. */
export const sendingDomainsProjection: Projection = {
  name: 'sending_domains',
  version: 1,
  filter: { streamPrefixes: [DOMAIN_STREAM_PREFIX] },
  tables: {
    domains: `
      domain TEXT PRIMARY KEY,
      credential_id TEXT,
      credential_name TEXT,
      added_at INTEGER NOT NULL`,
    dkim_keys: `
      domain TEXT NOT NULL,
      selector TEXT NOT NULL,
      generation INTEGER NOT NULL,
      algorithm TEXT NOT NULL,
      public_key TEXT NOT NULL,
      status TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      activated_at INTEGER,
      retired_at INTEGER,
      PRIMARY KEY (domain, selector)`,
  },
  indexes: { by_credential: 'domains (credential_id)' },
  apply: (db, t, events) => {
    for (const recorded of events) {
      const domain = recorded.streamName.slice(DOMAIN_STREAM_PREFIX.length);
      const event = recorded as unknown as RecordedEvent & SendingDomainEvent;
      const setStatus = (status: string, column: string | null, at: number, generation: number) =>
        statement(
          db,
          `UPDATE ${t('dkim_keys')} SET status = ?${column ? `, ${column} = ?` : ''}
           WHERE domain = ? AND generation = ?`,
        ).run(...(column ? [status, at] : [status]), domain, generation);
      switch (event.type) {
        case 'DomainAdded':
          statement(db, `INSERT OR REPLACE INTO ${t('domains')} VALUES (?, ?, ?, ?)`).run(
            domain,
            event.data.credential?.id ?? null,
            event.data.credential?.name ?? null,
            event.data.addedAt,
          );
          break;
        case 'DkimKeysGenerated':
          for (const key of event.data.keys)
            statement(
              db,
              `INSERT OR REPLACE INTO ${t('dkim_keys')}
               VALUES (?, ?, ?, ?, ?, 'pending', ?, NULL, NULL)`,
            ).run(
              domain,
              key.selector,
              event.data.generation,
              key.algorithm,
              key.publicKey,
              event.data.at,
            );
          break;
        case 'DkimKeysActivated':
          setStatus('active', 'activated_at', event.data.at, event.data.generation);
          break;
        case 'DkimKeysRetired':
          setStatus('retired', 'retired_at', event.data.at, event.data.generation);
          break;
        case 'DkimKeysRemoved':
          setStatus('removed', null, event.data.at, event.data.generation);
          break;
      }
    }
  },
};

const t = liveTables(sendingDomainsProjection);

export interface SigningKeyRow {
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  readonly generation: number;
}

/** The keys that sign now for each of these domains (one generation per domain). */
export const activeSigningKeys = (db: ReadModelDb, domains: readonly string[]): SigningKeyRow[] =>
  domains.length === 0
    ? []
    : (statement(
        db,
        `SELECT domain, selector, algorithm, generation FROM ${t('dkim_keys')}
         WHERE status = 'active' AND domain IN (${domains.map(() => '?').join(', ')})
         ORDER BY domain, algorithm DESC`,
      ).all(...domains) as SigningKeyRow[]);

export interface SendingDomainRow {
  readonly domain: string;
  readonly credentialId: string | null;
  readonly credentialName: string | null;
  readonly addedAt: number;
  readonly activeSelectors: string | null;
  readonly pendingSelectors: string | null;
}

export const listSendingDomains = (db: ReadModelDb): SendingDomainRow[] =>
  statement(
    db,
    `SELECT d.domain, d.credential_id AS credentialId, d.credential_name AS credentialName,
            d.added_at AS addedAt,
            (SELECT group_concat(selector, ' ') FROM ${t('dkim_keys')} k
              WHERE k.domain = d.domain AND k.status = 'active') AS activeSelectors,
            (SELECT group_concat(selector, ' ') FROM ${t('dkim_keys')} k
              WHERE k.domain = d.domain AND k.status = 'pending') AS pendingSelectors
     FROM ${t('domains')} d ORDER BY d.domain`,
  ).all() as SendingDomainRow[];

/** Whether mail from this domain is ours to send (it was added with `domains add`). */
export const isSendingDomain = (db: ReadModelDb, domain: string): boolean =>
  statement(db, `SELECT 1 FROM ${t('domains')} WHERE domain = ?`).get(domain) !== undefined;

/** Domains added for this credential with `domains add --credential`. */
export const domainsOfCredential = (db: ReadModelDb, credentialId: string): string[] =>
  (
    statement(db, `SELECT domain FROM ${t('domains')} WHERE credential_id = ?`).all(
      credentialId,
    ) as Array<{ domain: string }>
  ).map((r) => r.domain);
