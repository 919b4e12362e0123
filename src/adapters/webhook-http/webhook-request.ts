import { createHmac, createPrivateKey, type KeyObject, randomBytes, sign } from 'node:crypto';
import type { Notification } from '../../domain/webhook/notification.js';
import type { WebhookFormat } from '../../domain/webhook-format/webhook-format.js';
import type { WebhookSecrets } from '../webhook-secrets/file-webhook-secrets.js';

/** A rendered, signed request body and its headers, ready to post. */
export interface WebhookRequest {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export const SENDGRID_SIGNATURE_HEADER = 'X-Twilio-Email-Event-Webhook-Signature';
export const SENDGRID_TIMESTAMP_HEADER = 'X-Twilio-Email-Event-Webhook-Timestamp';
/** The native format's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`. */
export const NATIVE_SIGNATURE_HEADER = 'X-Mailtrail-Signature';

const hmacHex = (key: string, data: string | Buffer): string =>
  createHmac('sha256', key).update(data).digest('hex');

const parsedKeys = new Map<string, KeyObject>();
const ecKey = (pem: string): KeyObject => {
  let key = parsedKeys.get(pem);
  if (!key) {
    key = createPrivateKey(pem);
    parsedKeys.set(pem, key);
  }
  return key;
};

/**
 * Renders notifications in the endpoint's format and signs them its provider's way:
 * Mailgun inside the body (HMAC-SHA256 hex over timestamp + 50-character token), SendGrid in
 * headers (ECDSA P-256 over timestamp + the exact body bytes, base64 DER), the native format
 * with an HMAC header; Postmark signs nothing, so its receivers rely on Basic auth, sent when
 * the endpoint URL carried a user:password.
 */
export const buildWebhookRequest = (
  format: WebhookFormat,
  notifications: readonly Notification[],
  secrets: WebhookSecrets,
  context: { readonly sentAt: number; readonly hostname: string },
): WebhookRequest => {
  const timestamp = String(Math.floor(context.sentAt / 1000));
  const mailgunSignature =
    format.name === 'mailgun'
      ? (() => {
          const token = randomBytes(25).toString('hex');
          return { timestamp, token, signature: hmacHex(secrets.signingKey, timestamp + token) };
        })()
      : null;
  const value = format.render(notifications, { ...context, mailgunSignature });
  // SendGrid's own bodies put each event on a line of its own (CRLF), as its signed fixtures do.
  const body = Buffer.from(
    Array.isArray(value)
      ? `[${value.map((item) => JSON.stringify(item)).join(',\r\n')}\r\n]\r\n`
      : JSON.stringify(value),
  );
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'mailtrail-webhooks/1',
  };
  if (secrets.basicAuth)
    headers.authorization = `Basic ${Buffer.from(secrets.basicAuth).toString('base64')}`;
  if (format.name === 'sendgrid' && secrets.ecPrivateKeyPem) {
    headers[SENDGRID_TIMESTAMP_HEADER] = timestamp;
    headers[SENDGRID_SIGNATURE_HEADER] = sign(
      'sha256',
      Buffer.concat([Buffer.from(timestamp), body]),
      ecKey(secrets.ecPrivateKeyPem),
    ).toString('base64');
  }
  if (format.name === 'native')
    headers[NATIVE_SIGNATURE_HEADER] =
      `t=${timestamp},v1=${hmacHex(secrets.signingKey, Buffer.concat([Buffer.from(`${timestamp}.`), body]))}`;
  return { headers, body };
};
