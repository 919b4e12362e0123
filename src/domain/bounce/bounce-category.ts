import type { SmtpReply } from '../smtp-reply/smtp-reply.js';

/** PowerMTA's bounce categories (`bounceCat`), so accounting consumers keep their parsers. */
export type BounceCategory =
  | 'bad-configuration'
  | 'bad-connection'
  | 'bad-domain'
  | 'bad-mailbox'
  | 'content-related'
  | 'inactive-mailbox'
  | 'invalid-sender'
  | 'message-expired'
  | 'no-answer-from-host'
  | 'other'
  | 'policy-related'
  | 'protocol-errors'
  | 'quota-issues'
  | 'relaying-issues'
  | 'routing-errors'
  | 'spam-related'
  | 'virus-related';

export interface Classification {
  readonly category: BounceCategory;
  /** The rule that matched, for auditors: which table row said so. */
  readonly rule: string;
}

interface Rule {
  readonly name: string;
  readonly test: (reply: SmtpReply) => boolean;
  readonly category: BounceCategory;
}

const byText = (name: string, pattern: RegExp, category: BounceCategory): Rule => ({
  name,
  test: (reply) => pattern.test(reply.text),
  category,
});
/** `x` in the pattern stands for the class digit, 4 or 5. */
const byCode = (code: string, category: BounceCategory): Rule => {
  const pattern = new RegExp(`^${code.replace('x', '[45]').replace(/\./g, '\\.')}(\\.|$)`);
  return {
    name: `code:${code}`,
    test: (reply) => pattern.test(reply.enhancedCode ?? ''),
    category,
  };
};

// First match wins. Text rules come before code rules where receivers misuse codes.
// Issue 5 replaces this table with configurable data; the shape stays.
const RULES: readonly Rule[] = [
  byText('text:spam', /\b(spam|blocklist|blacklist|listed at)\b/i, 'spam-related'),
  byText('text:virus', /\bvirus\b/i, 'virus-related'),
  byText('text:quota', /\b(quota|mailbox full|over quota)\b/i, 'quota-issues'),
  byCode('x.1.10', 'bad-domain'),
  byCode('x.1.2', 'bad-domain'),
  byCode('x.1.1', 'bad-mailbox'),
  byCode('x.1.6', 'inactive-mailbox'),
  byCode('x.1.7', 'invalid-sender'),
  byCode('x.1.8', 'invalid-sender'),
  byCode('x.2.2', 'quota-issues'),
  byCode('x.2.1', 'inactive-mailbox'),
  byCode('x.3.4', 'content-related'),
  byCode('x.3.5', 'bad-configuration'),
  byCode('x.4.7', 'message-expired'),
  byCode('x.4.1', 'no-answer-from-host'),
  byCode('x.4.2', 'bad-connection'),
  byCode('x.4', 'routing-errors'),
  byCode('x.5', 'protocol-errors'),
  byCode('x.6', 'content-related'),
  byCode('x.7', 'policy-related'),
  {
    name: 'code:550',
    test: (r) => r.code === 550 && r.enhancedCode === null,
    category: 'bad-mailbox',
  },
  {
    name: 'code:552',
    test: (r) => r.code === 552 && r.enhancedCode === null,
    category: 'quota-issues',
  },
];

export const classifyReply = (reply: SmtpReply): Classification => {
  const rule = RULES.find((r) => r.test(reply));
  return rule
    ? { category: rule.category, rule: rule.name }
    : { category: 'other', rule: 'default' };
};
