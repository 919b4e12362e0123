import Table from 'cli-table3';
import type { Command } from 'commander';
import { fold } from '../../../domain/message/decider.js';
import { type MessageEvent, messageStream } from '../../../domain/message/events.js';
import { formatSmtpReply } from '../../../domain/smtp-reply/smtp-reply.js';
import { deliveryQueueProjection } from '../../../projections/delivery-queue/delivery-queue.js';
import {
  listRecipients,
  type RecipientStatus,
} from '../../../projections/delivery-queue/queries.js';
import { deliveriesOfMessage } from '../../../projections/webhook-outbox/queries.js';
import { webhookOutboxProjection } from '../../../projections/webhook-outbox/webhook-outbox.js';
import { verifyStream } from '../../audit/verify-log.js';
import { fail, openContext, toJson } from '../cli-context.js';
import { parseSince } from '../parse-since.js';

const at = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

const describe = (event: MessageEvent): [string, string, string] => {
  switch (event.type) {
    case 'MessageAccepted': {
      const d = event.data;
      const who = d.credential ? `credential ${d.credential.name}` : 'trusted network';
      const lines = [
        `from <${d.envelope.from}> via ${d.source} (${who}, ${d.client.address}${d.client.tls ? ', TLS' : ''}), ${d.size} bytes`,
        ...(d.headers.subject ? [`subject: ${d.headers.subject}`] : []),
        ...(d.scheduledAt !== null ? [`scheduled for ${at(d.scheduledAt)}`] : []),
        ...(d.testMode ? ['test mode: recorded, never delivered'] : []),
        ...(d.requireTls
          ? [d.skipTlsVerification ? 'requires TLS, any certificate' : 'requires verified TLS']
          : []),
        ...(d.tags.length > 0 ? [`tags: ${d.tags.join(', ')}`] : []),
        ...(Object.keys(d.metadata).length > 0 ? [`metadata: ${JSON.stringify(d.metadata)}`] : []),
        ...(d.batchId ? [`request ${d.batchId}`] : []),
      ];
      return ['accepted', d.envelope.to.map((t) => t.address).join('\n'), lines.join('\n')];
    }
    case 'MessageSigned':
      return [
        'signed',
        '',
        event.data.signatures
          .map((s) => `DKIM d=${s.domain} s=${s.selector} a=${s.algorithm}`)
          .join('\n'),
      ];
    case 'DeliveryDeferred':
      return [
        `deferred #${event.data.attempt}`,
        event.data.recipient,
        `${formatSmtpReply(event.data.reply)}\n${event.data.remote.mx ?? '-'} ${event.data.remote.ip ?? ''} · next ${at(event.data.nextAttemptAt)}`,
      ];
    case 'MessageDelivered':
      return [
        `delivered #${event.data.attempt}`,
        event.data.recipient,
        `${formatSmtpReply(event.data.reply)}\n${event.data.remote.mx ?? '-'} ${event.data.remote.ip ?? ''}${event.data.remote.tls ? ' · TLS' : ''} · ${event.data.queuedMs} ms in queue`,
      ];
    case 'Unsubscribed':
      return ['unsubscribed', event.data.recipient, `by ${event.data.method}`];
    case 'Opened':
    case 'Clicked': {
      const d = event.data;
      const who = `${d.userAgent ?? 'no user agent'} from ${d.ip ?? '?'}${d.machine ? ` (machine: ${d.machine})` : ''}`;
      return event.type === 'Opened'
        ? [d.first ? 'opened' : 'opened again', d.recipient, who]
        : [
            d.first ? 'clicked' : 'clicked again',
            d.recipient,
            `${event.data.url}${event.data.location === 'text' ? ' (in the text part)' : ''}\n${who}`,
          ];
    }
    case 'ComplaintReceived':
      return [
        'complaint',
        event.data.recipient,
        `${event.data.feedbackType} report${event.data.userAgent ? ` from ${event.data.userAgent}` : ''}`,
      ];
    case 'RecipientSuppressed':
      return [
        'suppressed',
        event.data.recipient,
        `on the ${event.data.scope} suppression list (${event.data.reason}): not sent`,
      ];
    case 'MessageBounced':
      return [
        `bounced #${event.data.attempt}`,
        event.data.recipient,
        `${formatSmtpReply(event.data.reply)}\n${event.data.classification.class ?? event.data.classification.category} (${event.data.classification.category}, ${event.data.classification.severity}, ${event.data.phase}; rule ${event.data.classification.rule})`,
      ];
  }
};

export const messagesCommand = (program: Command): void => {
  const messages = program.command('messages').description("a message's history, and the queue");

  messages
    .command('show <messageId>')
    .description('the whole history of one message, as a timeline (an auditor replay)')
    .option('--json', 'events and the folded state, machine-readable')
    .action(async (messageId: string, opts: { json?: boolean }) => {
      const ctx = await openContext(program.opts().config, [webhookOutboxProjection]);
      try {
        const recorded = [];
        for await (const e of ctx.store.readStream(messageStream(messageId))) recorded.push(e);
        if (recorded.length === 0) fail(`no message ${messageId}`);
        const events = recorded.map((e) => ({ type: e.type, data: e.data }) as MessageEvent);
        const finding = await verifyStream(ctx.store, messageStream(messageId));
        const integrity =
          finding === 'not-kept'
            ? { verified: false, finding: null }
            : { verified: finding === null, finding };
        if (opts.json)
          return void process.stdout.write(
            `${toJson({ messageId, events: recorded, state: fold(events), integrity })}\n`,
          );
        const table = new Table({ head: ['time', 'event', 'recipient', 'detail'] });
        recorded.forEach((e, i) => {
          const [what, who, detail] = describe(events[i] as MessageEvent);
          table.push([at(e.recordedAt.getTime()), what, who, detail]);
        });
        process.stdout.write(`message ${messageId}\n${table.toString()}\n`);
        process.stdout.write(
          finding === 'not-kept'
            ? 'integrity: this event store keeps no hash chains\n'
            : finding === null
              ? `integrity: verified (${recorded.length} events, hash chain intact)\n`
              : `integrity: FAILED at revision ${finding.revision} (position ${finding.position}): ${finding.problem}\n`,
        );
        const notifications = deliveriesOfMessage(ctx.readDb, messageId);
        if (notifications.length > 0) {
          const counts = new Map<string, number>();
          for (const n of notifications) counts.set(n.status, (counts.get(n.status) ?? 0) + 1);
          process.stdout.write(
            `webhooks: ${[...counts].map(([status, n]) => `${n} ${status}`).join(', ')} (mailtrail webhooks attempts ${messageId})\n`,
          );
        }
      } finally {
        await ctx.close();
      }
    });

  messages
    .command('list')
    .description('recipients of recent messages with their status, newest first')
    .option('--recipient <address>', 'only this recipient')
    .option('--status <status>', 'queued | deferred | delivered | bounced | suppressed | test')
    .option('--since <time>', 'accepted since: an ISO time, or a duration ago (1h, 2d)')
    .option('--limit <n>', 'at most this many rows', '50')
    .option('--json', 'machine-readable output')
    .action(
      async (opts: {
        recipient?: string;
        status?: string;
        since?: string;
        limit: string;
        json?: boolean;
      }) => {
        const statuses = ['queued', 'deferred', 'delivered', 'bounced', 'suppressed', 'test'];
        if (opts.status && !statuses.includes(opts.status))
          fail(`--status: expected one of ${statuses.join(', ')}`);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1)
          fail('--limit: expected a positive whole number');
        const since = opts.since === undefined ? undefined : parseSince(opts.since);
        const ctx = await openContext(program.opts().config, [deliveryQueueProjection]);
        try {
          const rows = listRecipients(ctx.readDb, {
            ...(opts.recipient ? { recipient: opts.recipient } : {}),
            ...(opts.status ? { status: opts.status as RecipientStatus } : {}),
            ...(since !== undefined ? { since } : {}),
            limit,
          });
          if (opts.json) return void process.stdout.write(`${toJson(rows)}\n`);
          const table = new Table({
            head: ['message', 'accepted', 'recipient', 'status', 'attempts', 'last reply'],
          });
          for (const r of rows)
            table.push([
              r.messageId,
              at(r.acceptedAt),
              r.recipient,
              r.status,
              r.attempts,
              r.lastReply ? formatSmtpReply(r.lastReply).slice(0, 60) : '',
            ]);
          process.stdout.write(
            `${table.toString()}\n${rows.length} row${rows.length === 1 ? '' : 's'}\n`,
          );
        } finally {
          await ctx.close();
        }
      },
    );
};
