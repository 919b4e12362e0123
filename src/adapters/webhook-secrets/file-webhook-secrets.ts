import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { WebhookFormatName } from '../../domain/webhook-format/webhook-format.js';
import { writeFileDurably } from '../files/write-durably.js';

/** What signs and authenticates an endpoint's requests; never written to the event log. */
export interface WebhookSecrets {
  /** HMAC-SHA256 key of the Mailgun and native signatures, hex. */
  readonly signingKey: string;
  /** SendGrid: the P-256 private key, PKCS#8 PEM; null for other formats. */
  readonly ecPrivateKeyPem: string | null;
  /** The `user:password` the URL carried (Postmark's way), sent as Basic auth; or null. */
  readonly basicAuth: string | null;
}

export interface WebhookSecretStore {
  /** New secrets for an endpoint, stored durably; returns them and the public key if any. */
  create(
    webhookId: string,
    format: WebhookFormatName,
    basicAuth: string | null,
  ): { readonly secrets: WebhookSecrets; readonly publicKey: string | null };
  load(webhookId: string): WebhookSecrets | undefined;
  remove(webhookId: string): void;
}

/**
 * Secrets as one 0600 JSON file per endpoint under `<dataDir>/keys/webhooks/`, written
 * whole or not at all. SendGrid's receivers verify with the public half, base64 DER SPKI,
 * the form SendGrid shows as the verification key.
 */
export const createFileWebhookSecretStore = (keysDir: string): WebhookSecretStore => {
  const dir = join(keysDir, 'webhooks');
  const pathOf = (id: string) => join(dir, `${id}.json`);
  const loaded = new Map<string, WebhookSecrets>();
  return {
    create: (webhookId, format, basicAuth) => {
      let ecPrivateKeyPem: string | null = null;
      let publicKey: string | null = null;
      if (format === 'sendgrid') {
        const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        ecPrivateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
        publicKey = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
      }
      const secrets: WebhookSecrets = {
        signingKey: randomBytes(32).toString('hex'),
        ecPrivateKeyPem,
        basicAuth,
      };
      writeFileDurably(pathOf(webhookId), JSON.stringify(secrets));
      loaded.set(webhookId, secrets);
      return { secrets, publicKey };
    },
    load: (webhookId) => {
      const hit = loaded.get(webhookId);
      if (hit) return hit;
      try {
        const secrets = JSON.parse(readFileSync(pathOf(webhookId), 'utf8')) as WebhookSecrets;
        loaded.set(webhookId, secrets);
        return secrets;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    remove: (webhookId) => {
      loaded.delete(webhookId);
      rmSync(pathOf(webhookId), { force: true });
    },
  };
};
