import type {
  DeliveryDeferred,
  MessageAccepted,
  MessageBounced,
  MessageDelivered,
} from '../message/events.js';
import { effectiveEnhancedCode, formatSmtpReply } from '../smtp-reply/smtp-reply.js';

/** PowerMTA's accounting fields, in its order, so existing CSV parsers read ours. */
export const ACCT_FIELDS = [
  'type',
  'timeLogged',
  'timeQueued',
  'orig',
  'rcpt',
  'orcpt',
  'dsnAction',
  'dsnStatus',
  'dsnDiag',
  'dsnMta',
  'bounceCat',
  'srcType',
  'srcMta',
  'dlvType',
  'dlvSourceIp',
  'dlvDestinationIp',
  'dlvEsmtpAvailable',
  'dlvSize',
  'vmta',
  'jobId',
  'envId',
] as const;

export type AcctField = (typeof ACCT_FIELDS)[number];
export type AcctRecord = Readonly<Record<AcctField, string>>;

/** What an outcome record needs to know about its message, kept from MessageAccepted. */
export interface AcceptedFacts {
  readonly orig: string;
  readonly timeQueued: number;
  readonly srcType: 'smtp' | 'api';
  readonly srcMta: string;
  readonly size: number;
  readonly jobId: string | null;
  readonly envId: string | null;
  readonly orcpts: Readonly<Record<string, string | null>>;
}

export const factsFromAccepted = (d: MessageAccepted['data']): AcceptedFacts => ({
  orig: d.envelope.from,
  timeQueued: d.acceptedAt,
  srcType: d.source === 'smtp' ? 'smtp' : 'api',
  srcMta: d.source === 'smtp' ? `${d.client.helo ?? 'unknown'} (${d.client.address})` : d.source,
  size: d.size,
  jobId: d.jobId,
  envId: d.envelope.envId,
  orcpts: Object.fromEntries(d.envelope.to.map((t) => [t.address, t.orcpt])),
});

const pad = (n: number): string => String(n).padStart(2, '0');

/** PowerMTA's default time format, in UTC: `2026-11-27 20:44:29+0000`. */
export const formatAcctTime = (ms: number): string => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(
    d.getUTCHours(),
  )}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}+0000`;
};

type Outcome = DeliveryDeferred | MessageDelivered | MessageBounced;

const RECORD_TYPE = { MessageDelivered: 'd', MessageBounced: 'b', DeliveryDeferred: 't' } as const;
const DSN_ACTION = {
  MessageDelivered: 'relayed',
  MessageBounced: 'failed',
  DeliveryDeferred: 'delayed',
} as const;

export const acctRecord = (facts: AcceptedFacts, outcome: Outcome): AcctRecord => {
  const d = outcome.data;
  const remote = d.remote;
  const bounceCat =
    outcome.type === 'MessageBounced'
      ? outcome.data.classification.category
      : outcome.type === 'DeliveryDeferred'
        ? outcome.data.category
        : '';
  return {
    // PowerMTA logs a bounce report that came back later as `rb` (remote bounce).
    type:
      outcome.type === 'MessageBounced' && outcome.data.phase === 'out-of-band'
        ? 'rb'
        : RECORD_TYPE[outcome.type],
    timeLogged: formatAcctTime(d.at),
    timeQueued: formatAcctTime(facts.timeQueued),
    orig: facts.orig,
    rcpt: d.recipient,
    orcpt: facts.orcpts[d.recipient] ?? '',
    dsnAction: DSN_ACTION[outcome.type],
    dsnStatus: effectiveEnhancedCode(d.reply),
    dsnDiag: `smtp;${formatSmtpReply(d.reply)}`,
    dsnMta: remote.mx ? `${remote.mx}${remote.ip ? ` (${remote.ip})` : ''}` : '',
    bounceCat,
    srcType: facts.srcType,
    srcMta: facts.srcMta,
    dlvType: 'smtp',
    dlvSourceIp: remote.sourceIp ?? '',
    dlvDestinationIp: remote.ip ?? '',
    dlvEsmtpAvailable: remote.esmtp.join(','),
    dlvSize: String(facts.size),
    // PowerMTA's virtual MTA is our egress source.
    vmta: d.source ?? 'default',
    jobId: facts.jobId ?? '',
    envId: facts.envId ?? '',
  };
};

const csvCell = (value: string): string =>
  /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;

/** RFC 4180: one line per record, CRLF-terminated, quoted where needed. */
export const csvLine = (values: readonly string[]): string =>
  `${values.map(csvCell).join(',')}\r\n`;
export const csvHeader = (): string => csvLine(ACCT_FIELDS);
export const csvRecord = (r: AcctRecord): string => csvLine(ACCT_FIELDS.map((f) => r[f]));
