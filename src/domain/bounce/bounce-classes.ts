import type { BounceCategory } from './bounce-category.js';

/**
 * What a bounce means for the recipient. permanent: the mailbox is gone, so it is
 * suppressed; transient: it may work later; policy: the receiver refused us (our IP, our
 * content, our authentication), not the mailbox, so nothing is suppressed.
 */
export type Severity = 'permanent' | 'transient' | 'policy';

export interface BounceClass {
  /** PowerMTA's `bounceCat`, for the accounting log. */
  readonly bounceCat: BounceCategory;
  readonly severity: Severity;
}

/**
 * KumoMTA's bounce classes (crates/bounce-classify), each with its PowerMTA `bounceCat` and
 * a severity. Rule files may define more.
 */
export const BUILT_IN_CLASSES = {
  InvalidRecipient: { bounceCat: 'bad-mailbox', severity: 'permanent' },
  BadDomain: { bounceCat: 'bad-domain', severity: 'permanent' },
  InactiveMailbox: { bounceCat: 'inactive-mailbox', severity: 'permanent' },
  DNSFailure: { bounceCat: 'bad-domain', severity: 'transient' },
  InvalidSender: { bounceCat: 'invalid-sender', severity: 'policy' },
  QuotaIssues: { bounceCat: 'quota-issues', severity: 'transient' },
  SpamBlock: { bounceCat: 'spam-related', severity: 'policy' },
  SpamContent: { bounceCat: 'spam-related', severity: 'policy' },
  SpamRelated: { bounceCat: 'spam-related', severity: 'policy' },
  VirusRelated: { bounceCat: 'virus-related', severity: 'policy' },
  ProhibitedAttachment: { bounceCat: 'content-related', severity: 'policy' },
  ContentRelated: { bounceCat: 'content-related', severity: 'policy' },
  AuthenticationFailed: { bounceCat: 'policy-related', severity: 'policy' },
  PolicyRelated: { bounceCat: 'policy-related', severity: 'policy' },
  RelayDenied: { bounceCat: 'relaying-issues', severity: 'policy' },
  RelayingIssues: { bounceCat: 'relaying-issues', severity: 'policy' },
  RoutingErrors: { bounceCat: 'routing-errors', severity: 'transient' },
  NoAnswerFromHost: { bounceCat: 'no-answer-from-host', severity: 'transient' },
  BadConnection: { bounceCat: 'bad-connection', severity: 'transient' },
  BadConfiguration: { bounceCat: 'bad-configuration', severity: 'transient' },
  ProtocolErrors: { bounceCat: 'protocol-errors', severity: 'transient' },
  TooManyRecipients: { bounceCat: 'policy-related', severity: 'transient' },
  MessageExpired: { bounceCat: 'message-expired', severity: 'transient' },
  TransientFailure: { bounceCat: 'other', severity: 'transient' },
  AutoReply: { bounceCat: 'other', severity: 'transient' },
  ChallengeResponse: { bounceCat: 'other', severity: 'transient' },
  Subscribe: { bounceCat: 'other', severity: 'transient' },
  Unsubscribe: { bounceCat: 'other', severity: 'transient' },
  // A 5xx nobody recognises: the address failed for good as far as we can tell.
  Uncategorized: { bounceCat: 'other', severity: 'permanent' },
} as const satisfies Record<string, BounceClass>;
