import { z } from 'zod';
import type { Decider } from '../command-handling/handle-command.js';
import { WEBHOOK_FORMAT_NAMES } from '../webhook-format/webhook-format.js';
import { WEBHOOK_EVENT_KINDS } from './notification.js';

/**
 * A webhook endpoint of one credential: where its mail's events are posted, in which
 * provider's format, and which events. Its secrets (signing keys, a password in the URL)
 * live in the key store, never in the log: the log is read by auditors and data teams.
 */
export const WebhookCreatedSchema = z.object({
  webhookId: z.string().min(1),
  credentialId: z.string().min(1),
  /** The URL without any user:password part (that is a secret, kept with the keys). */
  url: z.string().url(),
  format: z.enum(WEBHOOK_FORMAT_NAMES),
  events: z.array(z.enum(WEBHOOK_EVENT_KINDS)).min(1),
  /** SendGrid: the public half of the P-256 signing key, base64 DER (what receivers verify). */
  publicKey: z.string().nullable(),
  createdAt: z.number().int(),
});

export const WebhookRemovedSchema = z.object({
  webhookId: z.string().min(1),
  removedAt: z.number().int(),
});

/** Send again what this endpoint was sent or due since a time, whatever came of it. */
export const WebhookReplayRequestedSchema = z.object({
  webhookId: z.string().min(1),
  since: z.number().int(),
  requestedAt: z.number().int(),
});

export type WebhookCreated = { type: 'WebhookCreated'; data: z.infer<typeof WebhookCreatedSchema> };
export type WebhookRemoved = { type: 'WebhookRemoved'; data: z.infer<typeof WebhookRemovedSchema> };
export type WebhookReplayRequested = {
  type: 'WebhookReplayRequested';
  data: z.infer<typeof WebhookReplayRequestedSchema>;
};
export type WebhookEvent = WebhookCreated | WebhookRemoved | WebhookReplayRequested;

export const WEBHOOK_EVENT_SCHEMAS = {
  WebhookCreated: WebhookCreatedSchema,
  WebhookRemoved: WebhookRemovedSchema,
  WebhookReplayRequested: WebhookReplayRequestedSchema,
} as const;

export const WEBHOOK_STREAM_PREFIX = 'webhook-';
export const webhookStream = (id: string): string => `${WEBHOOK_STREAM_PREFIX}${id}`;

export type WebhookState =
  | { readonly status: 'absent' }
  | { readonly status: 'active' | 'removed'; readonly created: WebhookCreated['data'] };

export type WebhookCommand =
  | { readonly type: 'CreateWebhook'; readonly data: WebhookCreated['data'] }
  | { readonly type: 'RemoveWebhook'; readonly webhookId: string; readonly at: number }
  | {
      readonly type: 'ReplayWebhook';
      readonly webhookId: string;
      readonly since: number;
      readonly at: number;
    };

export class WebhookError extends Error {
  constructor(
    readonly code: 'WebhookExists' | 'WebhookNotFound' | 'WebhookRemoved',
    message: string,
  ) {
    super(message);
    this.name = `WebhookError[${code}]`;
  }
}

export const decideWebhook = (command: WebhookCommand, state: WebhookState): WebhookEvent[] => {
  switch (command.type) {
    case 'CreateWebhook':
      if (state.status !== 'absent')
        throw new WebhookError('WebhookExists', `webhook ${command.data.webhookId} exists`);
      return [{ type: 'WebhookCreated', data: command.data }];
    case 'RemoveWebhook':
      if (state.status === 'absent')
        throw new WebhookError('WebhookNotFound', `no webhook ${command.webhookId}`);
      // Removing twice is harmless: nothing new happened.
      if (state.status === 'removed') return [];
      return [
        { type: 'WebhookRemoved', data: { webhookId: command.webhookId, removedAt: command.at } },
      ];
    case 'ReplayWebhook':
      if (state.status === 'absent')
        throw new WebhookError('WebhookNotFound', `no webhook ${command.webhookId}`);
      if (state.status === 'removed')
        throw new WebhookError('WebhookRemoved', `webhook ${command.webhookId} was removed`);
      return [
        {
          type: 'WebhookReplayRequested',
          data: { webhookId: command.webhookId, since: command.since, requestedAt: command.at },
        },
      ];
  }
};

export const evolveWebhook = (state: WebhookState, event: WebhookEvent): WebhookState => {
  switch (event.type) {
    case 'WebhookCreated':
      return { status: 'active', created: event.data };
    case 'WebhookRemoved':
      return state.status === 'absent' ? state : { ...state, status: 'removed' };
    case 'WebhookReplayRequested':
      return state;
  }
};

export const webhookDecider = {
  decide: decideWebhook,
  evolve: evolveWebhook,
  initialState: { status: 'absent' } as WebhookState,
  schemas: WEBHOOK_EVENT_SCHEMAS,
} satisfies Decider<WebhookCommand, WebhookEvent, WebhookState>;
