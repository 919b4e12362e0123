/**
 * How fast the bounce classifier decides.
 *
 *   npm run bench:bounces -- [--replies 200000] [--runs 5] [--json]
 *
 * Classifies realistic provider replies (test/fixtures/bounce-replies.json, each with a
 * different address and IP so nothing repeats) with the built-in rules: what the delivery
 * thread pays per failed recipient. Reported: replies/s, the median of --runs.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadBounceRules } from '../src/apps/bounces/bounce-rules.js';
import { classifyReply } from '../src/domain/bounce/classifier.js';
import { parseSmtpReply } from '../src/domain/smtp-reply/smtp-reply.js';
import { median } from './support/targets.js';

const { values } = parseArgs({
  options: {
    replies: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const total = Number(values.replies);
const runs = Number(values.runs);

const fixtures = JSON.parse(
  readFileSync(new URL('../test/fixtures/bounce-replies.json', import.meta.url), 'utf8'),
) as Array<{ reply: string }>;
const rules = loadBounceRules([]);
// Distinct texts, as a real queue sees them: the address and IP differ per recipient.
const replies = Array.from({ length: 5000 }, (_, i) =>
  parseSmtpReply(
    (fixtures[i % fixtures.length] as { reply: string }).reply
      .replace(/[\w.+-]+@[\w.-]+/g, `user${i}@example${i % 97}.com`)
      .replace(/\b\d{1,3}(\.\d{1,3}){3}\b/g, `192.0.2.${i % 250}`),
  ),
);

const rates: number[] = [];
for (let run = 0; run < runs; run++) {
  const start = performance.now();
  let uncategorized = 0;
  for (let i = 0; i < total; i++)
    if (classifyReply(rules, replies[i % replies.length] as never).class === 'Uncategorized')
      uncategorized++;
  const seconds = (performance.now() - start) / 1000;
  rates.push(total / seconds);
  if (!values.json)
    process.stderr.write(
      `run ${run + 1}/${runs}: ${Math.round(total / seconds)} replies/s (${uncategorized} uncategorized)\n`,
    );
}
const result = {
  rules: rules.phrases.length + rules.codes.length,
  distinctReplies: replies.length,
  repliesPerSecond: Math.round(median(rates)),
  microsecondsPerReply: Number((1e6 / median(rates)).toFixed(2)),
};
process.stdout.write(
  values.json
    ? `${JSON.stringify(result)}\n`
    : `${result.repliesPerSecond} replies/s (${result.microsecondsPerReply} µs each), ${result.rules} rules, median of ${runs} runs\n`,
);
