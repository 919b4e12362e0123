import { domainOf } from '../address/address.js';
import { type Classification, EXPIRED } from '../bounce/classifier.js';
import type { Decider } from '../command-handling/handle-command.js';
import { nextAttemptAt, type RetryPolicy } from '../retry/retry-policy.js';
import { replyClass, type SmtpReply } from '../smtp-reply/smtp-reply.js';
import {
  type AttemptRoute,
  MESSAGE_EVENT_SCHEMAS,
  type MessageAccepted,
  type MessageEvent,
  type MessageSigned,
  type RecipientSuppressed,
  type Remote,
} from './events.js';

/** `test`: accepted in test mode, recorded and never attempted. */
export type RecipientStatus = 'pending' | 'delivered' | 'bounced' | 'suppressed' | 'test';

export interface RecipientState {
  readonly address: string;
  readonly status: RecipientStatus;
  readonly attempts: number;
  /** When the next attempt is due; the acceptance time for a first attempt. */
  readonly dueAt: number;
  readonly lastReply: SmtpReply | null;
  /** A complaint came back about this recipient. */
  readonly complained?: boolean;
  /** The recipient unsubscribed from this sender. */
  readonly unsubscribed?: boolean;
  /** A tracking pixel or tracked link of this message was fetched for the recipient. */
  readonly opened?: boolean;
  readonly clicked?: boolean;
}

export type MessageState =
  | { readonly status: 'absent' }
  | {
      readonly status: 'accepted';
      readonly accepted: MessageAccepted['data'];
      readonly recipients: Readonly<Record<string, RecipientState>>;
    };

export const initialState: MessageState = { status: 'absent' };

/** One recipient's result of one delivery attempt, as the SMTP client saw it. */
export interface AttemptResult {
  readonly recipient: string;
  readonly reply: SmtpReply;
  readonly remote: Remote;
}

/** A result with what its reply means: the bounce classifier's verdict on a 4xx or 5xx. */
export interface ClassifiedResult extends AttemptResult {
  readonly classification?: Classification;
}

const UNCLASSIFIED: Classification = {
  class: 'Uncategorized',
  category: 'other',
  severity: 'permanent',
  rule: 'unclassified',
};

export type MessageCommand =
  | {
      readonly type: 'AcceptMessage';
      readonly data: MessageAccepted['data'];
      /** The DKIM signatures already in the stored body, if it was signed. */
      readonly signed?: MessageSigned['data'];
      /** Recipients on a suppression list: recorded as such, never attempted. */
      readonly suppressed?: readonly RecipientSuppressed['data'][];
    }
  | {
      readonly type: 'RecordAttempt';
      readonly at: number;
      readonly results: readonly ClassifiedResult[];
      /** The site and egress source the attempt went through (recorded on each event). */
      readonly route?: AttemptRoute;
      readonly policy: RetryPolicy;
      /** In [0, 1): spreads retries; given by the caller so `decide` stays pure. */
      readonly random: number;
    }
  | {
      /** A reply rule bounced the site's queue: every pending recipient at `domain` goes. */
      readonly type: 'BounceQueued';
      readonly at: number;
      readonly domain: string;
      readonly route: AttemptRoute;
      /** The reply that triggered the rule, and what it means. */
      readonly reply: SmtpReply;
      readonly classification: Classification;
    }
  | {
      /** A bounce report came back to the recipient's return path. */
      readonly type: 'RecordOutOfBandBounce';
      readonly at: number;
      readonly recipient: string;
      readonly reply: SmtpReply;
      readonly classification: Classification;
    }
  | {
      /** A complaint (feedback report) came back about the recipient. */
      readonly type: 'RecordComplaint';
      readonly at: number;
      readonly recipient: string;
      readonly feedbackType: string;
      readonly userAgent: string | null;
    }
  | {
      /** The recipient asked to hear no more from this sender. */
      readonly type: 'RecordUnsubscribe';
      readonly at: number;
      readonly recipient: string;
      readonly method: 'one-click' | 'mailto';
    }
  | {
      /** A tracking pixel was fetched, or a tracked link followed (then `link` is set). */
      readonly type: 'RecordEngagement';
      readonly recipient: string;
      readonly at: number;
      readonly userAgent: string | null;
      readonly ip: string | null;
      readonly machine: 'apple' | 'gmail' | 'generic' | null;
      readonly link: { readonly url: string; readonly location: 'html' | 'text' } | null;
    };

export type MessageErrorCode = 'MessageAlreadyAccepted' | 'MessageNotAccepted';

export class MessageError extends Error {
  constructor(
    readonly code: MessageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = `MessageError[${code}]`;
  }
}

const decideAttempt = (
  state: Extract<MessageState, { status: 'accepted' }>,
  command: Extract<MessageCommand, { type: 'RecordAttempt' }>,
): MessageEvent[] =>
  command.results.flatMap((result): MessageEvent[] => {
    const recipient = state.recipients[result.recipient];
    // A result for a recipient that is already final is a replayed attempt: nothing new.
    if (recipient?.status !== 'pending') return [];
    const attempt = recipient.attempts + 1;
    const base = {
      recipient: result.recipient,
      site: command.route?.site ?? null,
      source: command.route?.source ?? null,
      attempt,
      at: command.at,
      reply: result.reply,
      remote: result.remote,
    };
    const kind = replyClass(result.reply);
    if (kind === 'success')
      return [
        {
          type: 'MessageDelivered',
          data: { ...base, queuedMs: Math.max(0, command.at - state.accepted.acceptedAt) },
        },
      ];
    const classification = result.classification ?? UNCLASSIFIED;
    if (kind === 'permanent')
      return [
        {
          type: 'MessageBounced',
          data: { ...base, classification, phase: 'in-band' },
        },
      ];
    const next = nextAttemptAt(
      command.policy,
      attempt,
      command.at,
      firstDue(state.accepted),
      command.random,
    );
    if (next === null)
      return [
        { type: 'MessageBounced', data: { ...base, classification: EXPIRED, phase: 'expired' } },
      ];
    return [
      {
        type: 'DeliveryDeferred',
        data: {
          ...base,
          nextAttemptAt: next,
          category: classification.category,
          class: classification.class,
        },
      },
    ];
  });

const NO_REMOTE: Remote = { mx: null, ip: null, sourceIp: null, tls: false, esmtp: [] };

const decideQueueBounce = (
  state: Extract<MessageState, { status: 'accepted' }>,
  command: Extract<MessageCommand, { type: 'BounceQueued' }>,
): MessageEvent[] =>
  Object.values(state.recipients)
    .filter((r) => r.status === 'pending' && domainOf(r.address) === command.domain)
    .map((r) => ({
      type: 'MessageBounced',
      data: {
        recipient: r.address,
        site: command.route.site,
        source: command.route.source,
        attempt: r.attempts,
        at: command.at,
        reply: command.reply,
        remote: NO_REMOTE,
        // The site's trouble, not the mailbox's: nothing here may suppress the recipient.
        classification: { ...command.classification, severity: 'policy' },
        phase: 'admin',
      },
    }));

export const decide = (command: MessageCommand, state: MessageState): MessageEvent[] => {
  switch (command.type) {
    case 'AcceptMessage':
      if (state.status !== 'absent')
        throw new MessageError(
          'MessageAlreadyAccepted',
          `message ${command.data.messageId} exists`,
        );
      return [
        { type: 'MessageAccepted', data: command.data },
        ...(command.signed ? [{ type: 'MessageSigned' as const, data: command.signed }] : []),
        ...(command.suppressed ?? [])
          .filter((s) => command.data.envelope.to.some((t) => t.address === s.recipient))
          .map((data) => ({ type: 'RecipientSuppressed' as const, data })),
      ];
    case 'RecordAttempt':
      if (state.status !== 'accepted')
        throw new MessageError('MessageNotAccepted', 'no MessageAccepted in this stream');
      return decideAttempt(state, command);
    case 'BounceQueued':
      if (state.status !== 'accepted')
        throw new MessageError('MessageNotAccepted', 'no MessageAccepted in this stream');
      return decideQueueBounce(state, command);
    case 'RecordOutOfBandBounce': {
      if (state.status !== 'accepted')
        throw new MessageError('MessageNotAccepted', 'no MessageAccepted in this stream');
      const r = state.recipients[command.recipient];
      // Delivered, or still being retried: the report is the last word. Already bounced or
      // never sent: nothing new (a second report for the same recipient, a forwarded copy).
      if (!r || r.status === 'bounced' || r.status === 'suppressed') return [];
      return [
        {
          type: 'MessageBounced',
          data: {
            recipient: r.address,
            site: null,
            source: null,
            attempt: r.attempts,
            at: command.at,
            reply: command.reply,
            remote: NO_REMOTE,
            classification: command.classification,
            phase: 'out-of-band',
          },
        },
      ];
    }
    case 'RecordUnsubscribe': {
      if (state.status !== 'accepted')
        throw new MessageError('MessageNotAccepted', 'no MessageAccepted in this stream');
      const r = state.recipients[command.recipient];
      // Mail clients may post twice (and scanners follow links): once is enough.
      if (!r || r.unsubscribed) return [];
      return [
        {
          type: 'Unsubscribed',
          data: { recipient: r.address, at: command.at, method: command.method },
        },
      ];
    }
    case 'RecordEngagement': {
      if (state.status !== 'accepted')
        throw new MessageError('MessageNotAccepted', 'no MessageAccepted in this stream');
      const r = state.recipients[command.recipient];
      if (!r) return [];
      // Every open and click is on record (machines included, flagged): stats decide.
      const base = {
        recipient: r.address,
        at: command.at,
        userAgent: command.userAgent,
        ip: command.ip,
        machine: command.machine,
      };
      return command.link === null
        ? [{ type: 'Opened', data: { ...base, first: !r.opened } }]
        : [{ type: 'Clicked', data: { ...base, ...command.link, first: !r.clicked } }];
    }
    case 'RecordComplaint': {
      if (state.status !== 'accepted')
        throw new MessageError('MessageNotAccepted', 'no MessageAccepted in this stream');
      const r = state.recipients[command.recipient];
      if (!r || r.complained) return [];
      return [
        {
          type: 'ComplaintReceived',
          data: {
            recipient: r.address,
            at: command.at,
            feedbackType: command.feedbackType,
            userAgent: command.userAgent,
          },
        },
      ];
    }
  }
};

const withRecipient = (
  state: MessageState,
  address: string,
  change: (r: RecipientState) => RecipientState,
): MessageState => {
  if (state.status !== 'accepted') return state;
  const current = state.recipients[address];
  if (!current) return state;
  return { ...state, recipients: { ...state.recipients, [address]: change(current) } };
};

/** When a message's first attempt is due, and its queue age counts from: a scheduled time. */
export const firstDue = (accepted: MessageAccepted['data']): number =>
  Math.max(accepted.acceptedAt, accepted.scheduledAt ?? accepted.acceptedAt);

export const evolve = (state: MessageState, event: MessageEvent): MessageState => {
  switch (event.type) {
    case 'MessageAccepted':
      return {
        status: 'accepted',
        accepted: event.data,
        recipients: Object.fromEntries(
          event.data.envelope.to.map((to) => [
            to.address,
            {
              address: to.address,
              status: event.data.testMode ? 'test' : 'pending',
              attempts: 0,
              dueAt: firstDue(event.data),
              lastReply: null,
            } satisfies RecipientState,
          ]),
        ),
      };
    case 'MessageSigned':
      return state;
    case 'DeliveryDeferred':
      return withRecipient(state, event.data.recipient, (r) => ({
        ...r,
        attempts: event.data.attempt,
        dueAt: event.data.nextAttemptAt,
        lastReply: event.data.reply,
      }));
    case 'MessageDelivered':
      return withRecipient(state, event.data.recipient, (r) => ({
        ...r,
        status: 'delivered',
        attempts: event.data.attempt,
        lastReply: event.data.reply,
      }));
    case 'Unsubscribed':
      return withRecipient(state, event.data.recipient, (r) => ({ ...r, unsubscribed: true }));
    case 'Opened':
      return withRecipient(state, event.data.recipient, (r) => ({ ...r, opened: true }));
    case 'Clicked':
      return withRecipient(state, event.data.recipient, (r) => ({ ...r, clicked: true }));
    case 'ComplaintReceived':
      return withRecipient(state, event.data.recipient, (r) => ({ ...r, complained: true }));
    case 'RecipientSuppressed':
      return withRecipient(state, event.data.recipient, (r) => ({ ...r, status: 'suppressed' }));
    case 'MessageBounced':
      return withRecipient(state, event.data.recipient, (r) => ({
        ...r,
        status: 'bounced',
        attempts: event.data.attempt,
        lastReply: event.data.reply,
      }));
  }
};

export const fold = (events: readonly MessageEvent[]): MessageState =>
  events.reduce(evolve, initialState);

export const pendingRecipients = (state: MessageState): RecipientState[] =>
  state.status === 'accepted'
    ? Object.values(state.recipients).filter((r) => r.status === 'pending')
    : [];

export const messageDecider = {
  decide,
  evolve,
  initialState,
  schemas: MESSAGE_EVENT_SCHEMAS,
} satisfies Decider<MessageCommand, MessageEvent, MessageState>;
