import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseInboundReport, verpLocalPartsIn } from './parse-report.js';

const TOKEN = '01jq3zk7x9m2n4p6r8t0v2w4y6.0.0123456789abcdef';
const fixture = (name: string) =>
  readFileSync(new URL(`../../../test/fixtures/inbound/${name}.eml`, import.meta.url), 'utf8')
    .replaceAll('{{TOKEN}}', TOKEN)
    .replaceAll('{{MESSAGE_ID}}', '01JQ3ZK7X9M2N4P6R8T0V2W4Y6')
    .replace(/\n/g, '\r\n');

const failed = (name: string) => {
  const report = parseInboundReport(fixture(name));
  assert.equal(report.kind, 'delivery-status', name);
  return report.kind === 'delivery-status' ? report.recipients : [];
};

describe('inbound reports', () => {
  it('reads RFC 3464 reports from Postfix, Gmail, Exchange, Exim and the RFC example', () => {
    for (const [name, status, code] of [
      ['dsn-rfc3464-example', '5.1.1', 550],
      ['dsn-postfix', '5.1.1', 550],
      ['dsn-gmail', '5.1.1', 550],
      ['dsn-exchange', '5.1.10', 550],
      ['dsn-quota', '5.2.2', 552],
    ] as const) {
      const [r] = failed(name);
      assert.equal(r?.action, 'failed', name);
      assert.equal(r?.finalRecipient, 'alice@example.com', name);
      assert.equal(r?.reply.enhancedCode, status, name);
      assert.equal(r?.reply.code, code, name);
    }
  });

  it('tells a delay from a failure, and takes each recipient of a report on its own', () => {
    assert.deepEqual(
      failed('dsn-delayed').map((r) => r.action),
      ['delayed'],
    );
    assert.deepEqual(
      failed('dsn-two-recipients').map((r) => [r.finalRecipient, r.action]),
      [
        ['alice@example.com', 'failed'],
        ['bob@example.com', 'delayed'],
      ],
    );
  });

  it('reads qmail and old Exim bounces, and an auto-reply is not a bounce', () => {
    const qmail = parseInboundReport(fixture('bounce-qmail'));
    assert.equal(qmail.kind === 'bounce' && qmail.reply.enhancedCode, '5.1.1');
    const exim = parseInboundReport(fixture('bounce-exim-plain'));
    assert.equal(exim.kind === 'bounce' && exim.reply.code, 550);
    assert.equal(exim.kind === 'bounce' && exim.reply.enhancedCode, '5.1.1');
    assert.equal(parseInboundReport(fixture('bounce-autoreply')).kind, 'auto-reply');
  });

  it('reads RFC 5965 feedback reports (Yahoo, Microsoft JMRP, not-spam) and finds the token in them', () => {
    for (const [name, type] of [
      ['arf-rfc5965-example', 'abuse'],
      ['arf-yahoo', 'abuse'],
      ['arf-microsoft-jmrp', 'abuse'],
      ['arf-not-spam', 'not-spam'],
    ] as const) {
      const report = parseInboundReport(fixture(name));
      assert.equal(report.kind === 'feedback' && report.feedbackType, type, name);
      assert.deepEqual(verpLocalPartsIn(fixture(name)), [`b+${TOKEN}`], name);
    }
  });

  it('never throws on what it cannot read', () => {
    assert.equal(parseInboundReport('').kind, 'unknown');
    assert.equal(
      parseInboundReport('Content-Type: multipart/report; boundary=x\n\nno parts').kind,
      'unknown',
    );
    assert.equal(parseInboundReport('Subject: hello\n\njust a note').kind, 'unknown');
  });
});
