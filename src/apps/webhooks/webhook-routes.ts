import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { WebhookSecretStore } from '../../adapters/webhook-secrets/file-webhook-secrets.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { WEBHOOK_EVENT_KINDS } from '../../domain/webhook/notification.js';
import { webhookFormat } from '../../domain/webhook-format/formats.js';
import { WEBHOOK_FORMAT_NAMES } from '../../domain/webhook-format/webhook-format.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';
import { findWebhook, listWebhooks } from '../../projections/webhook-outbox/queries.js';
import { createWebhook, removeWebhook, testWebhook, WebhookUrlError } from './manage-webhooks.js';

export interface WebhookRouteDeps {
  readonly store: EventStore;
  readonly readDb: ReadModelDb;
  readonly secrets: WebhookSecretStore;
  readonly authenticateKey: (
    key: string,
    clientAddress: string,
  ) => { readonly id: string; readonly name: string } | null;
  readonly hostname: string;
  readonly timeoutMs: number;
}

const NewWebhookSchema = z
  .object({
    url: z.string().min(1),
    format: z.enum(WEBHOOK_FORMAT_NAMES),
    events: z.array(z.enum(WEBHOOK_EVENT_KINDS)).min(1).optional(),
  })
  .strict();

/**
 * The webhook admin API: an application manages its own credential's endpoints with its
 * API key (`Authorization: Bearer <key>`), as the CLI does for operators. Errors are
 * `{error}` with a 4xx; secrets are returned once, at creation.
 */
export const webhookRoutes = async (app: FastifyInstance, deps: WebhookRouteDeps) => {
  const credentialOf = (request: FastifyRequest) => {
    const key = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    return key ? deps.authenticateKey(key, request.ip) : null;
  };
  const refuse = (reply: FastifyReply, status: number, error: string) =>
    reply.code(status).send({ error });
  const view = (w: NonNullable<ReturnType<typeof findWebhook>>) => ({
    id: w.webhookId,
    url: w.url,
    format: w.format,
    events: w.events,
    status: w.status,
    createdAt: new Date(w.createdAt).toISOString(),
    pending: w.pending,
    dead: w.dead,
  });
  const own = (request: FastifyRequest<{ Params: { id: string } }>) => {
    const credential = credentialOf(request);
    const found = findWebhook(deps.readDb, request.params.id);
    return { credential, found: found && found.credentialId === credential?.id ? found : null };
  };

  app.get('/v1/webhooks', async (request, reply) => {
    const credential = credentialOf(request);
    if (!credential) return refuse(reply, 401, 'an API key is needed (Authorization: Bearer …)');
    return { webhooks: listWebhooks(deps.readDb, credential.id).map(view) };
  });

  app.post('/v1/webhooks', async (request, reply) => {
    const credential = credentialOf(request);
    if (!credential) return refuse(reply, 401, 'an API key is needed (Authorization: Bearer …)');
    const parsed = NewWebhookSchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return refuse(reply, 400, `${issue?.path.join('.') || 'body'}: ${issue?.message}`);
    }
    const { url, format } = parsed.data;
    const has = webhookFormat(format).kinds;
    const events = parsed.data.events ?? WEBHOOK_EVENT_KINDS.filter((k) => has.has(k));
    const missing = events.find((k) => !has.has(k));
    if (missing) return refuse(reply, 400, `events: the ${format} format has no ${missing} event`);
    try {
      const created = await createWebhook(deps.store, deps.secrets, {
        credentialId: credential.id,
        url,
        format,
        events,
      });
      return reply.code(201).send({
        id: created.webhookId,
        signingKey: created.signingKey,
        publicKey: created.publicKey,
      });
    } catch (error) {
      if (error instanceof WebhookUrlError) return refuse(reply, 400, `url: ${error.message}`);
      throw error;
    }
  });

  app.delete<{ Params: { id: string } }>('/v1/webhooks/:id', async (request, reply) => {
    const { credential, found } = own(request);
    if (!credential) return refuse(reply, 401, 'an API key is needed (Authorization: Bearer …)');
    if (!found) return refuse(reply, 404, `no webhook ${request.params.id}`);
    await removeWebhook(deps.store, deps.secrets, found.webhookId);
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string } }>('/v1/webhooks/:id/test', async (request, reply) => {
    const { credential, found } = own(request);
    if (!credential) return refuse(reply, 401, 'an API key is needed (Authorization: Bearer …)');
    if (found?.status !== 'active') return refuse(reply, 404, `no webhook ${request.params.id}`);
    return testWebhook(
      deps.secrets,
      { ...found, credential },
      { hostname: deps.hostname, timeoutMs: deps.timeoutMs },
    );
  });
};
