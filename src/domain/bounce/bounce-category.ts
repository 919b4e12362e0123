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

const enhanced = (prefix: string) => (reply: SmtpReply) =>
  reply.enhancedCode?.startsWith(prefix) === true;
const text = (pattern: RegExp) => (reply: SmtpReply) => pattern.test(reply.text);

// First match wins. Text rules come before code rules where receivers misuse codes.
// Issue 5 replaces this table with configurable data; the shape stays.
const RULES: readonly Rule[] = [
  {
    name: 'text:spam',
    test: text(/\b(spam|blocklist|blacklist|listed at)\b/i),
    category: 'spam-related',
  },
  { name: 'text:virus', test: text(/\bvirus\b/i), category: 'virus-related' },
  {
    name: 'text:quota',
    test: text(/\b(quota|mailbox full|over quota)\b/i),
    category: 'quota-issues',
  },
  { name: 'code:x.1.10', test: enhanced('5.1.10'), category: 'bad-domain' },
  { name: 'code:x.1.2', test: enhanced('5.1.2'), category: 'bad-domain' },
  {
    name: 'code:x.1.1',
    test: (r) => /^[45]\.1\.1$/.test(r.enhancedCode ?? ''),
    category: 'bad-mailbox',
  },
  {
    name: 'code:x.1.6',
    test: (r) => /^[45]\.1\.6$/.test(r.enhancedCode ?? ''),
    category: 'inactive-mailbox',
  },
  {
    name: 'code:x.1.7',
    test: (r) => /^[45]\.1\.[78]$/.test(r.enhancedCode ?? ''),
    category: 'invalid-sender',
  },
  {
    name: 'code:x.2.2',
    test: (r) => /^[45]\.2\.2$/.test(r.enhancedCode ?? ''),
    category: 'quota-issues',
  },
  {
    name: 'code:x.2.1',
    test: (r) => /^[45]\.2\.1$/.test(r.enhancedCode ?? ''),
    category: 'inactive-mailbox',
  },
  {
    name: 'code:x.3',
    test: (r) => /^[45]\.3\./.test(r.enhancedCode ?? ''),
    category: 'bad-configuration',
  },
  {
    name: 'code:x.4.7',
    test: (r) => /^[45]\.4\.7$/.test(r.enhancedCode ?? ''),
    category: 'message-expired',
  },
  {
    name: 'code:x.4.1',
    test: (r) => /^[45]\.4\.1$/.test(r.enhancedCode ?? ''),
    category: 'no-answer-from-host',
  },
  {
    name: 'code:x.4.2',
    test: (r) => /^[45]\.4\.2$/.test(r.enhancedCode ?? ''),
    category: 'bad-connection',
  },
  {
    name: 'code:x.4',
    test: (r) => /^[45]\.4\./.test(r.enhancedCode ?? ''),
    category: 'routing-errors',
  },
  {
    name: 'code:x.5',
    test: (r) => /^[45]\.5\./.test(r.enhancedCode ?? ''),
    category: 'protocol-errors',
  },
  {
    name: 'code:x.6',
    test: (r) => /^[45]\.6\./.test(r.enhancedCode ?? ''),
    category: 'content-related',
  },
  {
    name: 'code:x.7.1',
    test: (r) => /^[45]\.7\.1$/.test(r.enhancedCode ?? ''),
    category: 'policy-related',
  },
  {
    name: 'code:x.7',
    test: (r) => /^[45]\.7\./.test(r.enhancedCode ?? ''),
    category: 'policy-related',
  },
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
