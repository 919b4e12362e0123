import Table from 'cli-table3';
import type { Command } from 'commander';
import { createFileWebhookSecretStore } from '../../../adapters/webhook-secrets/file-webhook-secrets.js';
import {
  isWebhookEventKind,
  WEBHOOK_EVENT_KINDS,
  type WebhookEventKind,
} from '../../../domain/webhook/notification.js';
import { webhookFormat } from '../../../domain/webhook-format/formats.js';
import {
  WEBHOOK_FORMAT_NAMES,
  type WebhookFormatName,
} from '../../../domain/webhook-format/webhook-format.js';
import {
  type CredentialRow,
  credentialsProjection,
  listCredentials,
} from '../../../projections/credentials/credentials.js';
import type { ReadModelDb } from '../../../projections/runner/read-model-db.js';
import {
  attemptsOfMessage,
  deliveriesOfMessage,
  findWebhook,
  listWebhooks,
  type WebhookRow,
} from '../../../projections/webhook-outbox/queries.js';
import { webhookOutboxProjection } from '../../../projections/webhook-outbox/webhook-outbox.js';
import { dataPaths } from '../../relay/data-paths.js';
import {
  createWebhook,
  removeWebhook,
  replayWebhook,
  testWebhook,
  WebhookUrlError,
} from '../../webhooks/manage-webhooks.js';
import { fail, openContext, toJson } from '../cli-context.js';
import { parseSince } from '../parse-since.js';

const credentialNamed = (db: ReadModelDb, key: string): CredentialRow =>
  listCredentials(db).find((c) => c.id === key || c.username === key || c.name === key) ??
  fail(`no credential ${key}`);

const webhookNamed = (db: ReadModelDb, id: string): WebhookRow =>
  findWebhook(db, id) ?? fail(`no webhook ${id} (see: mailtrail webhooks list)`);

const formatOption = (text: string): WebhookFormatName =>
  (WEBHOOK_FORMAT_NAMES as readonly string[]).includes(text)
    ? (text as WebhookFormatName)
    : fail(`--format: expected one of ${WEBHOOK_FORMAT_NAMES.join(', ')}, not ${text}`);

/** `--events`: a comma list, or all that the format has. */
const eventsOption = (text: string | undefined, format: WebhookFormatName): WebhookEventKind[] => {
  const has = webhookFormat(format).kinds;
  if (text === undefined) return WEBHOOK_EVENT_KINDS.filter((k) => has.has(k));
  const kinds = text.split(',').map((k) => k.trim());
  for (const kind of kinds) {
    if (!isWebhookEventKind(kind))
      fail(`--events: ${kind} is not one of ${WEBHOOK_EVENT_KINDS.join(', ')}`);
    if (!has.has(kind as WebhookEventKind))
      fail(`--events: the ${format} format has no ${kind} event`);
  }
  return kinds as WebhookEventKind[];
};

const PROJECTIONS = [credentialsProjection, webhookOutboxProjection];

export const webhooksCommand = (program: Command): void => {
  const webhooks = program
    .command('webhooks')
    .description(
      "tell applications what happened to their mail, in Mailgun's, SendGrid's, Postmark's or our own format",
    );

  webhooks
    .command('add')
    .description('add an endpoint for a credential; prints its id and signing key')
    .requiredOption('--credential <name>', 'the credential whose mail it hears about')
    .requiredOption('--url <url>', 'where to POST; user:password@ in it is sent as Basic auth')
    .requiredOption('--format <format>', `payload format: ${WEBHOOK_FORMAT_NAMES.join(' | ')}`)
    .option(
      '--events <list>',
      `comma list of ${WEBHOOK_EVENT_KINDS.join(', ')} (default: all the format has)`,
    )
    .option('--json', 'print {"webhookId","signingKey","publicKey"}')
    .action(
      async (opts: {
        credential: string;
        url: string;
        format: string;
        events?: string;
        json?: boolean;
      }) => {
        const format = formatOption(opts.format);
        const events = eventsOption(opts.events, format);
        const ctx = await openContext(program.opts().config, PROJECTIONS);
        try {
          const credential = credentialNamed(ctx.readDb, opts.credential);
          const created = await createWebhook(
            ctx.store,
            createFileWebhookSecretStore(dataPaths(ctx.config).keys),
            { credentialId: credential.id, url: opts.url, format, events },
          ).catch((error) =>
            error instanceof WebhookUrlError
              ? fail(`--url: ${error.message}`)
              : Promise.reject(error),
          );
          if (opts.json) process.stdout.write(`${JSON.stringify(created)}\n`);
          else {
            const table = new Table();
            table.push({ id: created.webhookId }, { format }, { events: events.join(', ') });
            if (format === 'sendgrid') table.push({ 'verification key': created.publicKey ?? '' });
            else if (format !== 'postmark') table.push({ 'signing key': created.signingKey });
            process.stdout.write(`${table.toString()}\n`);
          }
        } finally {
          await ctx.close();
        }
      },
    );

  webhooks
    .command('list')
    .description('endpoints, with what waits for each and what was given up on')
    .option('--credential <name>', 'only this credential’s')
    .option('--json', 'print a JSON array')
    .action(async (opts: { credential?: string; json?: boolean }) => {
      const ctx = await openContext(program.opts().config, PROJECTIONS);
      try {
        const credentials = listCredentials(ctx.readDb);
        const only = opts.credential ? credentialNamed(ctx.readDb, opts.credential).id : undefined;
        const rows = listWebhooks(ctx.readDb, only);
        if (opts.json) {
          process.stdout.write(`${toJson(rows)}\n`);
          return;
        }
        const table = new Table({
          head: ['id', 'credential', 'format', 'url', 'events', 'status', 'pending', 'dead'],
        });
        for (const w of rows)
          table.push([
            w.webhookId,
            credentials.find((c) => c.id === w.credentialId)?.name ?? w.credentialId,
            w.format,
            w.url,
            w.events.join(', '),
            w.status,
            w.pending,
            w.dead,
          ]);
        process.stdout.write(`${table.toString()}\n`);
      } finally {
        await ctx.close();
      }
    });

  webhooks
    .command('remove <id>')
    .description('stop posting to an endpoint; what was waiting for it is dropped')
    .action(async (id: string) => {
      const ctx = await openContext(program.opts().config, PROJECTIONS);
      try {
        webhookNamed(ctx.readDb, id);
        await removeWebhook(
          ctx.store,
          createFileWebhookSecretStore(dataPaths(ctx.config).keys),
          id,
        );
        process.stdout.write(`removed ${id}\n`);
      } finally {
        await ctx.close();
      }
    });

  webhooks
    .command('test <id>')
    .description('post a made-up delivered event to an endpoint now, signed, and show the answer')
    .option('--json', 'print {"status","error","durationMs"}')
    .action(async (id: string, opts: { json?: boolean }) => {
      const ctx = await openContext(program.opts().config, PROJECTIONS);
      try {
        const w = webhookNamed(ctx.readDb, id);
        const credential = credentialNamed(ctx.readDb, w.credentialId);
        const result = await testWebhook(
          createFileWebhookSecretStore(dataPaths(ctx.config).keys),
          { ...w, credential: { id: credential.id, name: credential.name } },
          { hostname: ctx.config.hostname, timeoutMs: ctx.config.webhooks.timeout },
        );
        const ok = result.status !== null && result.status >= 200 && result.status < 300;
        if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else
          process.stdout.write(
            ok
              ? `${w.url} answered ${result.status} in ${result.durationMs} ms\n`
              : `${w.url} failed: ${result.error}\n`,
          );
        if (!ok) process.exitCode = 1;
      } finally {
        await ctx.close();
      }
    });

  webhooks
    .command('replay')
    .description('post again everything an endpoint was due since a time, delivered or not')
    .requiredOption('--endpoint <id>', 'the webhook id')
    .requiredOption('--since <time>', 'an ISO time, or a duration meaning that long ago (2h)')
    .action(async (opts: { endpoint: string; since: string }) => {
      const since = parseSince(opts.since);
      const ctx = await openContext(program.opts().config, PROJECTIONS);
      try {
        const w = webhookNamed(ctx.readDb, opts.endpoint);
        if (w.status !== 'active') fail(`webhook ${w.webhookId} was removed`);
        await replayWebhook(ctx.store, w.webhookId, since);
        process.stdout.write(
          `replaying to ${w.webhookId} what it was due since ${new Date(since).toISOString()}\n`,
        );
      } finally {
        await ctx.close();
      }
    });

  webhooks
    .command('attempts <message-id>')
    .description('every attempt to tell an endpoint about a message, and what waits')
    .option('--json', 'print {"attempts":[...],"notifications":[...]}')
    .action(async (messageId: string, opts: { json?: boolean }) => {
      const ctx = await openContext(program.opts().config, PROJECTIONS);
      try {
        const attempts = attemptsOfMessage(ctx.readDb, messageId);
        const notifications = deliveriesOfMessage(ctx.readDb, messageId);
        if (opts.json) {
          process.stdout.write(`${toJson({ attempts, notifications })}\n`);
          return;
        }
        if (notifications.length === 0) {
          process.stdout.write(`no webhook notifications for message ${messageId}\n`);
          return;
        }
        const table = new Table({
          head: ['time', 'webhook', 'event', 'recipient', 'try', 'answer', 'ms', 'outcome', 'next'],
        });
        for (const a of attempts)
          table.push([
            new Date(a.at).toISOString(),
            a.webhookId,
            a.kind,
            a.recipient,
            a.generation > 0 ? `${a.attempt} (replay ${a.generation})` : a.attempt,
            a.status ?? a.error ?? '',
            a.durationMs,
            a.outcome,
            a.nextAt ? new Date(a.nextAt).toISOString() : '',
          ]);
        process.stdout.write(`${table.toString()}\n`);
        const waiting = notifications.filter((n) => n.status === 'pending');
        if (waiting.length > 0)
          process.stdout.write(
            `${waiting.length} notification(s) waiting: ${waiting.map((n) => `${n.kind} ${n.recipient} → ${n.webhookId}`).join('; ')}\n`,
          );
      } finally {
        await ctx.close();
      }
    });
};
