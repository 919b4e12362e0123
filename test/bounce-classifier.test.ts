/**
 * The built-in bounce rules against realistic replies from the big providers and the common
 * MTAs (test/fixtures/bounce-replies.json: reply, expected class, why). A policy or
 * reputation block must never read as the mailbox's fault.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadBounceRules } from '../src/apps/bounces/bounce-rules.js';
import { classifyReply } from '../src/domain/bounce/classifier.js';
import { parseSmtpReply } from '../src/domain/smtp-reply/smtp-reply.js';

const rows = JSON.parse(
  readFileSync(new URL('./fixtures/bounce-replies.json', import.meta.url), 'utf8'),
) as Array<{ reply: string; class: string; why: string }>;
const rules = loadBounceRules([]);
const verdict = (reply: string) => classifyReply(rules, parseSmtpReply(reply));

describe('built-in bounce rules', () => {
  it(`classify ${rows.length} provider replies as expected`, () => {
    const wrong = rows
      .map((row) => ({ ...row, got: verdict(row.reply) }))
      .filter((row) => row.got.class !== row.class)
      .map((row) => `${row.class} expected, ${row.got.class} by ${row.got.rule}: ${row.reply}`);
    assert.deepEqual(wrong, []);
  });

  it('never suppress for a block on our IP, content, authentication or policy; always for a dead mailbox', () => {
    for (const row of rows) {
      const { severity } = verdict(row.reply);
      if (['SpamBlock', 'SpamContent', 'AuthenticationFailed', 'PolicyRelated'].includes(row.class))
        assert.equal(severity, 'policy', row.reply);
      if (['InvalidRecipient', 'BadDomain', 'InactiveMailbox'].includes(row.class))
        assert.equal(severity, 'permanent', row.reply);
      if (['QuotaIssues', 'TransientFailure', 'DNSFailure'].includes(row.class))
        assert.equal(severity, 'transient', row.reply);
    }
    // The issue's own example: a 5.7.1 that blames the sending IP.
    assert.equal(
      verdict('550 5.7.1 Service unavailable, Client host [192.0.2.9] blocked using Spamhaus')
        .severity,
      'policy',
    );
  });

  it('name the file and line of the rule that decided, and fall back to the RFC 3463 codes', () => {
    assert.match(
      verdict('550 5.1.1 <a@b.example>: no such user').rule,
      /^built-in:default-bounces\.yaml:\d+ \/.+\/$/,
    );
    assert.equal(verdict('550 5.1.1 computer says no').class, 'InvalidRecipient');
    assert.equal(verdict('552 5.3.4 too big for us').class, 'ContentRelated');
    assert.equal(verdict('554 5.4.7 delivery time expired').class, 'MessageExpired');
    assert.equal(verdict('550 computer says no').class, 'Uncategorized');
  });
});
