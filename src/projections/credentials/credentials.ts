import type { CredentialEvent } from '../../domain/credential/credential.js';
import { CREDENTIAL_STREAM_PREFIX } from '../../domain/credential/credential.js';
import type { RecordedEvent } from '../../domain/event-store/event-store.js';
import { liveTables, type Projection } from '../runner/projection.js';
import { type ReadModelDb, statement } from '../runner/read-model-db.js';

/** SMTP AUTH looks credentials up here by username; the HTTP APIs by API key hash. */
export const credentialsProjection: Projection = {
  name: 'credentials',
  version: 5,
  filter: { streamPrefixes: [CREDENTIAL_STREAM_PREFIX] },
  tables: {
    credentials: `
      credential_id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      username TEXT NOT NULL,
      password_hash TEXT NOT NULL,
      domains TEXT NOT NULL,
      status TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      pool TEXT,
      unsubscribe TEXT,
      allowed_networks TEXT NOT NULL,
      paused_by TEXT,
      paused_reason TEXT,
      paused_at INTEGER`,
    api_keys: `
      key_hash TEXT PRIMARY KEY,
      key_id TEXT NOT NULL,
      credential_id TEXT NOT NULL,
      hint TEXT NOT NULL,
      status TEXT NOT NULL,
      created_at INTEGER NOT NULL`,
  },
  indexes: {
    by_username: 'credentials (username)',
    keys_by_credential: 'api_keys (credential_id)',
  },
  apply: (db, t, events) => {
    for (const recorded of events) {
      const event = recorded as unknown as RecordedEvent & CredentialEvent;
      if (event.type === 'CredentialCreated') {
        const d = event.data;
        statement(
          db,
          `INSERT OR REPLACE INTO ${t('credentials')}
           VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, NULL, NULL, NULL)`,
        ).run(
          d.credentialId,
          d.name,
          d.username,
          d.passwordHash,
          JSON.stringify(d.domains),
          d.createdAt,
          d.pool ?? null,
          d.unsubscribe ?? null,
          JSON.stringify(d.allowedNetworks ?? []),
        );
      } else if (event.type === 'CredentialRevoked') {
        statement(
          db,
          `UPDATE ${t('credentials')} SET status = 'revoked' WHERE credential_id = ?`,
        ).run(event.data.credentialId);
      } else if (event.type === 'ApiKeyCreated') {
        const d = event.data;
        statement(
          db,
          `INSERT OR REPLACE INTO ${t('api_keys')} VALUES (?, ?, ?, ?, 'active', ?)`,
        ).run(d.keyHash, d.keyId, d.credentialId, d.hint, d.createdAt);
      } else if (event.type === 'ApiKeyRevoked') {
        statement(
          db,
          `UPDATE ${t('api_keys')} SET status = 'revoked' WHERE key_id = ? AND credential_id = ?`,
        ).run(event.data.keyId, event.data.credentialId);
      } else if (event.type === 'CredentialNetworksSet') {
        statement(
          db,
          `UPDATE ${t('credentials')} SET allowed_networks = ? WHERE credential_id = ?`,
        ).run(JSON.stringify(event.data.allowedNetworks), event.data.credentialId);
      } else if (event.type === 'CredentialPaused') {
        const d = event.data;
        statement(
          db,
          `UPDATE ${t('credentials')} SET paused_by = ?, paused_reason = ?, paused_at = ?
           WHERE credential_id = ?`,
        ).run(d.by, d.reason, d.at, d.credentialId);
      } else if (event.type === 'CredentialResumed') {
        statement(
          db,
          `UPDATE ${t('credentials')} SET paused_by = NULL, paused_reason = NULL, paused_at = NULL
           WHERE credential_id = ?`,
        ).run(event.data.credentialId);
      }
    }
  },
};

export interface CredentialRow {
  readonly id: string;
  readonly name: string;
  readonly username: string;
  readonly passwordHash: string;
  readonly domains: readonly string[];
  readonly status: 'active' | 'revoked';
  readonly createdAt: number;
  readonly pool: string | null;
  readonly unsubscribe: 'on' | 'off' | null;
  /** Where it may authenticate from (CIDR); empty: anywhere. */
  readonly allowedNetworks: readonly string[];
  /** Why and since when its submissions are refused; null: it may send. */
  readonly paused: {
    readonly by: 'operator' | 'anomaly';
    readonly reason: string;
    readonly at: number;
  } | null;
}

interface Row {
  credential_id: string;
  name: string;
  username: string;
  password_hash: string;
  domains: string;
  status: 'active' | 'revoked';
  created_at: number;
  pool: string | null;
  unsubscribe: 'on' | 'off' | null;
  allowed_networks: string;
  paused_by: 'operator' | 'anomaly' | null;
  paused_reason: string | null;
  paused_at: number | null;
}

const t = liveTables(credentialsProjection);
const toCredential = (r: Row): CredentialRow => ({
  id: r.credential_id,
  name: r.name,
  username: r.username,
  passwordHash: r.password_hash,
  domains: JSON.parse(r.domains),
  status: r.status,
  createdAt: r.created_at,
  pool: r.pool,
  unsubscribe: r.unsubscribe,
  allowedNetworks: JSON.parse(r.allowed_networks),
  paused:
    r.paused_by === null
      ? null
      : { by: r.paused_by, reason: r.paused_reason ?? '', at: r.paused_at ?? 0 },
});

export const findActiveCredential = (db: ReadModelDb, username: string): CredentialRow | null => {
  const row = statement(
    db,
    `SELECT * FROM ${t('credentials')} WHERE username = ? AND status = 'active'`,
  ).get(username) as Row | undefined;
  return row ? toCredential(row) : null;
};

export const listCredentials = (db: ReadModelDb): CredentialRow[] =>
  (statement(db, `SELECT * FROM ${t('credentials')} ORDER BY created_at`).all() as Row[]).map(
    toCredential,
  );

export const findCredentialById = (db: ReadModelDb, id: string): CredentialRow | null => {
  const row = statement(db, `SELECT * FROM ${t('credentials')} WHERE credential_id = ?`).get(id) as
    | Row
    | undefined;
  return row ? toCredential(row) : null;
};

/** The active credential an active API key (by its SHA-256) belongs to. */
export const findCredentialByApiKeyHash = (
  db: ReadModelDb,
  keyHash: string,
): CredentialRow | null => {
  const row = statement(
    db,
    `SELECT c.* FROM ${t('api_keys')} k JOIN ${t('credentials')} c USING (credential_id)
     WHERE k.key_hash = ? AND k.status = 'active' AND c.status = 'active'`,
  ).get(keyHash) as Row | undefined;
  return row ? toCredential(row) : null;
};

export interface ApiKeyRow {
  readonly keyId: string;
  readonly credentialId: string;
  readonly hint: string;
  readonly status: 'active' | 'revoked';
  readonly createdAt: number;
}

export const listApiKeys = (db: ReadModelDb, credentialId?: string): ApiKeyRow[] =>
  (
    statement(
      db,
      `SELECT key_id, credential_id, hint, status, created_at FROM ${t('api_keys')}
       WHERE ? IS NULL OR credential_id = ? ORDER BY created_at`,
    ).all(credentialId ?? null, credentialId ?? null) as Array<{
      key_id: string;
      credential_id: string;
      hint: string;
      status: 'active' | 'revoked';
      created_at: number;
    }>
  ).map((r) => ({
    keyId: r.key_id,
    credentialId: r.credential_id,
    hint: r.hint,
    status: r.status,
    createdAt: r.created_at,
  }));
