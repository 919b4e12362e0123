import { randomBytes, randomUUID } from 'node:crypto';
import { type PostResult, postWebhook } from '../../adapters/webhook-http/post-webhook.js';
import { buildWebhookRequest } from '../../adapters/webhook-http/webhook-request.js';
import type { WebhookSecretStore } from '../../adapters/webhook-secrets/file-webhook-secrets.js';
import { handleCommand } from '../../domain/command-handling/handle-command.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import {
  type WebhookCommand,
  webhookDecider,
  webhookStream,
} from '../../domain/webhook/endpoint.js';
import {
  type Notification,
  notificationsOf,
  summarizeMessage,
  type WebhookEventKind,
} from '../../domain/webhook/notification.js';
import { webhookFormat } from '../../domain/webhook-format/formats.js';
import type { WebhookFormatName } from '../../domain/webhook-format/webhook-format.js';

export interface NewWebhook {
  readonly webhookId: string;
  /** What receivers verify with: Mailgun's and the native format's HMAC key... */
  readonly signingKey: string;
  /** ...or SendGrid's public key (base64 DER), the only half a receiver needs. */
  readonly publicKey: string | null;
}

export class WebhookUrlError extends Error {
  readonly code = 'InvalidWebhookUrl';
}

/** The URL as stored (no user:password) and the user:password it carried, if any. */
export const splitWebhookUrl = (text: string): { url: string; basicAuth: string | null } => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookUrlError(`"${text}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new WebhookUrlError(`"${text}" is not an http(s) URL`);
  const basicAuth = url.username
    ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
    : null;
  url.username = '';
  url.password = '';
  return { url: url.toString(), basicAuth };
};

/** Decides a command on an endpoint's stream and appends what it decided. */
const decide = (store: EventStore, command: WebhookCommand) =>
  handleCommand(
    store,
    webhookStream(command.type === 'CreateWebhook' ? command.data.webhookId : command.webhookId),
    webhookDecider,
    command,
    { newEventId: () => randomUUID() },
  );

export const createWebhook = async (
  store: EventStore,
  secrets: WebhookSecretStore,
  request: {
    readonly credentialId: string;
    readonly url: string;
    readonly format: WebhookFormatName;
    readonly events: readonly WebhookEventKind[];
  },
  now: number = Date.now(),
): Promise<NewWebhook> => {
  const { url, basicAuth } = splitWebhookUrl(request.url);
  const webhookId = `wh_${randomBytes(9).toString('base64url')}`;
  // The secrets first: an endpoint in the log without them could never sign a request.
  const created = secrets.create(webhookId, request.format, basicAuth);
  await decide(store, {
    type: 'CreateWebhook',
    data: {
      webhookId,
      credentialId: request.credentialId,
      url,
      format: request.format,
      events: [...request.events],
      publicKey: created.publicKey,
      createdAt: now,
    },
  });
  return { webhookId, signingKey: created.secrets.signingKey, publicKey: created.publicKey };
};

export const removeWebhook = async (
  store: EventStore,
  secrets: WebhookSecretStore,
  webhookId: string,
  now: number = Date.now(),
): Promise<void> => {
  await decide(store, { type: 'RemoveWebhook', webhookId, at: now });
  secrets.remove(webhookId);
};

/** Sends again everything the endpoint was due since `since`, delivered or not. */
export const replayWebhook = async (
  store: EventStore,
  webhookId: string,
  since: number,
  now: number = Date.now(),
): Promise<void> => {
  await decide(store, { type: 'ReplayWebhook', webhookId, since, at: now });
};

/**
 * A made-up delivered notification, posted at once in the endpoint's format and signed as
 * the real ones are, so an operator can check a receiver; nothing is recorded.
 */
export const sampleNotification = (now: number, credential: { id: string; name: string }) => {
  const messageId = '01SAMPLE0000000000000000000';
  const summary = summarizeMessage({
    messageId,
    acceptedAt: now - 2000,
    source: 'smtp',
    credential,
    client: { address: '127.0.0.1', helo: null, tls: true },
    envelope: {
      from: 'sender@example.com',
      to: [{ address: 'recipient@example.net', orcpt: null }],
      envId: null,
    },
    headers: {
      messageId: `<${messageId}@mailtrail.test>`,
      subject: 'mailtrail webhook test',
      from: 'Sender <sender@example.com>',
    },
    size: 1024,
    bodyRef: 'sample',
    jobId: null,
    lane: 'transactional',
    pool: null,
    returnPathDomain: null,
    recipientHeadersRef: null,
    batchId: null,
    apiMessageId: null,
    stream: null,
    tags: ['webhook-test'],
    metadata: { sample: 'true' },
    scheduledAt: null,
    testMode: true,
    requireTls: false,
    skipTlsVerification: false,
    tracking: { opens: false, clicks: false },
  });
  return notificationsOf(
    {
      type: 'MessageDelivered',
      data: {
        recipient: 'recipient@example.net',
        site: null,
        source: null,
        attempt: 1,
        at: now,
        reply: { code: 250, enhancedCode: '2.0.0', text: 'OK: queued as SAMPLE' },
        remote: { mx: 'mx.example.net', ip: '192.0.2.25', sourceIp: null, tls: true, esmtp: [] },
        queuedMs: 2000,
      },
    },
    summary,
    0n,
    now,
  )[0] as Notification;
};

export const testWebhook = async (
  secrets: WebhookSecretStore,
  endpoint: {
    readonly webhookId: string;
    readonly url: string;
    readonly format: WebhookFormatName;
    readonly credential: { id: string; name: string };
  },
  options: { readonly hostname: string; readonly timeoutMs: number },
  now: number = Date.now(),
): Promise<PostResult> => {
  const found = secrets.load(endpoint.webhookId);
  if (!found)
    return { status: null, error: 'the webhook signing secrets are missing', durationMs: 0 };
  return postWebhook(
    endpoint.url,
    buildWebhookRequest(
      webhookFormat(endpoint.format),
      [sampleNotification(now, endpoint.credential)],
      found,
      { sentAt: now, hostname: options.hostname },
    ),
    options.timeoutMs,
  );
};
