/** PowerMTA's bounce categories (`bounceCat`), so accounting consumers keep their parsers. */
export const BOUNCE_CATEGORIES = [
  'bad-configuration',
  'bad-connection',
  'bad-domain',
  'bad-mailbox',
  'content-related',
  'inactive-mailbox',
  'invalid-sender',
  'message-expired',
  'no-answer-from-host',
  'other',
  'policy-related',
  'protocol-errors',
  'quota-issues',
  'relaying-issues',
  'routing-errors',
  'spam-related',
  'virus-related',
] as const;

export type BounceCategory = (typeof BOUNCE_CATEGORIES)[number];
