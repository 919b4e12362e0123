import type { Command } from 'commander';
import { formatRuleFileError } from '../../../adapters/rule-files/rule-file-error.js';
import { classifyReply } from '../../../domain/bounce/classifier.js';
import { parseSmtpReply } from '../../../domain/smtp-reply/smtp-reply.js';
import { loadBounceRules, readBounceRules } from '../../bounces/bounce-rules.js';
import { cliConfig, toJson } from '../cli-context.js';

export const bouncesCommand = (program: Command): void => {
  const bounces = program
    .command('bounces')
    .description('bounce classification: what a remote reply means, and the rule files behind it');

  bounces
    .command('classify <reply>')
    .description(
      'classify a remote reply ("550 5.1.1 no such user"): class, bounceCat, severity and the rule that decided',
    )
    .option('--json', 'machine-readable output')
    .action((reply: string, opts: { json?: boolean }) => {
      const config = cliConfig(program.opts().config);
      const rules = loadBounceRules(config.bounces.files);
      const parsed = parseSmtpReply(reply);
      const verdict = classifyReply(rules, parsed);
      const suppresses = verdict.severity === 'permanent';
      if (opts.json)
        return void process.stdout.write(`${toJson({ reply: parsed, ...verdict, suppresses })}\n`);
      const lines = [
        ['class', verdict.class],
        ['bounceCat', verdict.category],
        [
          'severity',
          `${verdict.severity} (${suppresses ? 'a bounce suppresses the recipient' : 'never suppresses the recipient'})`,
        ],
        ['rule', verdict.rule],
      ];
      process.stdout.write(lines.map(([k, v]) => `${(k as string).padEnd(10)} ${v}\n`).join(''));
    });

  bounces
    .command('validate <files...>')
    .description('check bounce rule files: each error with its file, line and key path')
    .option('--json', 'machine-readable output')
    .action((files: string[], opts: { json?: boolean }) => {
      const { rules, errors } = readBounceRules(files);
      const count = rules.phrases.length + rules.codes.length;
      if (opts.json) process.stdout.write(`${toJson({ ok: errors.length === 0, errors })}\n`);
      else if (errors.length === 0)
        process.stdout.write(`ok: ${files.join(', ')} (${count} rules with the built-in ones)\n`);
      else process.stderr.write(`${errors.map(formatRuleFileError).join('\n')}\n`);
      if (errors.length > 0) process.exitCode = 1;
    });
};
