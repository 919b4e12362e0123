import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { ChainsNotKept, verifyLog } from '../../audit/verify-log.js';
import { fail, openContext, toJson } from '../cli-context.js';
import { parseSince } from '../parse-since.js';

const EXPLAIN: Record<string, string> = {
  altered: 'this event is not what was stored',
  'missing-before': 'an event before it in the log was removed or its hash changed',
  'missing-in-stream': 'the event before it in its stream is gone',
  unhashed: 'stored without hashes',
};

export const auditCommand = (program: Command): void => {
  const audit = program.command('audit').description('tamper evidence for the event log');

  audit
    .command('verify')
    .description(
      'recompute the hash chains and report the first altered or missing position; exits 1 if any',
    )
    .option('--since <time>', 'start at events recorded since: an ISO time, or a duration ago (2d)')
    .option('--json', 'print {"ok","checked","problems","findings","head"}')
    .action(async (opts: { since?: string; json?: boolean }) => {
      const since = opts.since === undefined ? undefined : parseSince(opts.since);
      const ctx = await openContext(program.opts().config);
      try {
        const head = await ctx.store.headPosition();
        const bar =
          process.stderr.isTTY && !opts.json
            ? new SingleBar({
                format: 'verifying [{bar}] {percentage}% | {value}/{total} positions',
                hideCursor: true,
                stream: process.stderr,
              })
            : undefined;
        bar?.start(Number(head) || 1, 0);
        const result = await verifyLog(ctx.store, {
          ...(since === undefined ? {} : { since }),
          onProgress: (_checked, position) => bar?.update(Number(position)),
        }).catch((error) =>
          error instanceof ChainsNotKept ? fail(error.message) : Promise.reject(error),
        );
        bar?.update(Number(head));
        bar?.stop();
        const ok = result.problems === 0;
        if (opts.json) process.stdout.write(`${toJson({ ok, ...result })}\n`);
        else {
          for (const f of result.findings)
            process.stdout.write(
              `position ${f.position} (${f.streamName} revision ${f.revision}): ${f.problem}: ${EXPLAIN[f.problem]}\n`,
            );
          process.stdout.write(
            ok
              ? `ok: ${result.checked} events, chains intact\n`
              : `FAILED: ${result.problems} of ${result.checked} events; first at position ${result.findings[0]?.position}\n`,
          );
          if (result.head)
            process.stdout.write(
              `head: position ${result.head.position}, hash ${result.head.hash} (note it: a later run must find the same)\n`,
            );
        }
        if (!ok) process.exitCode = 1;
      } finally {
        await ctx.close();
      }
    });
};
