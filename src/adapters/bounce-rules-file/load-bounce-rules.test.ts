import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyReply, mergeBounceRules } from '../../domain/bounce/classifier.js';
import { parseSmtpReply } from '../../domain/smtp-reply/smtp-reply.js';
import { parseBounceRules } from './load-bounce-rules.js';

const rulesOf = (text: string, file: string) => {
  const loaded = parseBounceRules(text, file);
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.errors));
  return loaded.rules;
};

const builtIn = rulesOf(
  [
    'rules:',
    '  SpamBlock:',
    "    - 'spamhaus'",
    '  InvalidRecipient:',
    "    - 'user unknown'",
    'codes:',
    '  InvalidRecipient:',
    "    - '^\\d{3} 5\\.1\\.1'",
    '  PolicyRelated:',
    "    - '^\\d{3} 5\\.7\\.\\d+'",
  ].join('\n'),
  'built-in.yaml',
);

const classOf = (rules: typeof builtIn, reply: string) =>
  classifyReply(rules, parseSmtpReply(reply));

describe('bounce rule files', () => {
  it('tries every phrase before any code, so the text beats a misused code', () => {
    assert.equal(classOf(builtIn, '550 5.7.1 user unknown').class, 'InvalidRecipient');
    assert.equal(classOf(builtIn, '550 5.1.1 listed at spamhaus').class, 'SpamBlock');
    assert.equal(classOf(builtIn, '550 5.1.1 go away').class, 'InvalidRecipient');
    assert.deepEqual(classOf(builtIn, '550 nothing known'), {
      class: 'Uncategorized',
      category: 'other',
      severity: 'permanent',
      rule: 'default',
    });
  });

  it("puts an operator's file first in each tier, and its class definitions win", () => {
    const own = rulesOf(
      [
        'classes:',
        '  QuotaIssues: { bounceCat: quota-issues, severity: permanent }',
        '  Parked: { bounceCat: inactive-mailbox, severity: permanent }',
        'rules:',
        '  Parked:',
        "    - 'parked domain'",
        'codes:',
        '  QuotaIssues:',
        "    - '^\\d{3} 5\\.1\\.1'",
      ].join('\n'),
      'own.yaml',
    );
    const rules = mergeBounceRules(own, builtIn);
    assert.deepEqual(classOf(rules, '550 5.7.1 parked domain, user unknown'), {
      class: 'Parked',
      category: 'inactive-mailbox',
      severity: 'permanent',
      rule: 'own.yaml:6 /parked domain/',
    });
    // Its code rule goes before the built-in codes, but after every phrase.
    assert.equal(classOf(rules, '550 5.1.1 whatever').class, 'QuotaIssues');
    assert.equal(classOf(rules, '550 5.1.1 whatever').severity, 'permanent');
    assert.equal(classOf(rules, '550 5.1.1 user unknown').class, 'InvalidRecipient');
  });

  it('reports each error with its line: bad regex, unknown class, bad class definition, unknown section', () => {
    const bad = parseBounceRules(
      [
        'classes:',
        '  Odd: { bounceCat: weird, severity: permanent }',
        'rules:',
        '  InvalidRecipient:',
        "    - '(unclosed'",
        '  NoSuchClass:',
        "    - 'x'",
        'extras: {}',
      ].join('\n'),
      'bad.yaml',
    );
    assert.equal(bad.ok, false);
    assert.deepEqual(!bad.ok && bad.errors.map((e) => `${e.line} ${e.path}`).sort(), [
      '2 classes.Odd.bounceCat',
      '5 rules.InvalidRecipient.0',
      '6 rules.NoSuchClass',
      '8 extras',
    ]);
  });
});
