import { randomUUID } from 'node:crypto';
import type { Classification } from '../../domain/bounce/classifier.js';
import { handleCommand, loadState } from '../../domain/command-handling/handle-command.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import {
  type InboundReport,
  parseInboundReport,
  verpLocalPartsIn,
} from '../../domain/inbound-report/parse-report.js';
import { type MessageCommand, messageDecider } from '../../domain/message/decider.js';
import { messageStream } from '../../domain/message/events.js';
import type { SmtpReply } from '../../domain/smtp-reply/smtp-reply.js';
import { parseVerpLocalPart, type VerpTarget } from '../../domain/verp/verp.js';

export interface InboundReportDeps {
  readonly store: EventStore;
  readonly verpKey: Uint8Array;
  readonly classify: (reply: SmtpReply) => Classification;
  readonly now: () => number;
}

export interface RecordedReport {
  readonly kind: InboundReport['kind'];
  /** Events appended: out-of-band bounces and complaints. */
  readonly recorded: number;
}

/** The report's verdict for one recipient of one of our messages, if it has one. */
const commandFor = (
  deps: InboundReportDeps,
  report: InboundReport,
  recipient: string,
  at: number,
): MessageCommand | null => {
  const bounce = (reply: SmtpReply): MessageCommand => ({
    type: 'RecordOutOfBandBounce',
    at,
    recipient,
    reply,
    classification: deps.classify(reply),
  });
  switch (report.kind) {
    case 'delivery-status': {
      const failed = report.recipients.filter((r) => r.action === 'failed');
      const mine =
        failed.find((r) => r.finalRecipient === recipient || r.originalRecipient === recipient) ??
        (failed.length === 1 ? failed[0] : undefined);
      return mine ? bounce(mine.reply) : null;
    }
    case 'bounce':
      return bounce(report.reply);
    case 'feedback':
      return report.feedbackType === 'not-spam'
        ? null
        : {
            type: 'RecordComplaint',
            at,
            recipient,
            feedbackType: report.feedbackType,
            userAgent: report.userAgent,
          };
    default:
      return null;
  }
};

/**
 * Records what came back to our return paths: each VERP token (the envelope's, and for a
 * complaint report also those quoted inside it: feedback loops send to a fixed address)
 * names a message and recipient; a failed delivery status or a free-text bounce becomes
 * an out-of-band MessageBounced, a complaint a ComplaintReceived. Delays, auto-replies and
 * not-spam reports record nothing.
 */
export const recordInboundReport = async (
  deps: InboundReportDeps,
  input: { readonly rcptLocalParts: readonly string[]; readonly raw: string },
): Promise<RecordedReport> => {
  const report = parseInboundReport(input.raw);
  const tokens = new Set([
    ...input.rcptLocalParts.map((l) => l.toLowerCase()),
    ...(report.kind === 'feedback' ? verpLocalPartsIn(input.raw) : []),
  ]);
  const targets = [...tokens]
    .map((t) => parseVerpLocalPart(deps.verpKey, t))
    .flatMap((p): VerpTarget[] => (p.ok ? [p.target] : []));
  let recorded = 0;
  for (const target of targets) {
    const stream = messageStream(target.messageId);
    const loaded = await loadState(deps.store, stream, messageDecider);
    if (loaded.state.status !== 'accepted') continue;
    const recipient = loaded.state.accepted.envelope.to[target.recipientIndex]?.address;
    if (!recipient) continue;
    const command = commandFor(deps, report, recipient, deps.now());
    if (!command) continue;
    const result = await handleCommand(deps.store, stream, messageDecider, command, {
      newEventId: () => randomUUID(),
      retries: 3,
    });
    recorded += result.events.length;
  }
  return { kind: report.kind, recorded };
};
