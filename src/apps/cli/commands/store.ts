import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { ESDB_CONNECTION_HINT, ESDB_CONNECTION_STRING } from '../../config/schema.js';
import { migrateStore } from '../../store-migration/migrate-store.js';
import { fail, openContext, toJson } from '../cli-context.js';

/** Where a copy to this target keeps its checkpoint: one file per target, in dataDir. */
const checkpointFile = (dataDir: string, target: string) =>
  join(
    dataDir,
    `migrate-${createHash('sha256').update(target).digest('hex').slice(0, 12)}.checkpoint`,
  );

export const storeCommand = (program: Command): void => {
  const store = program.command('store').description('the event log itself');

  store
    .command('migrate')
    .description(
      'copy the embedded SQLite log into EventStoreDB/KurrentDB: every stream at its revisions with its event ids, bodies along; resumable',
    )
    .requiredOption('--to <connection>', 'the target, e.g. esdb://db1:2113,db2:2113?tls=true')
    .option('--restart', 'ignore the checkpoint of an earlier run and walk the log from the start')
    .option('--json', 'print {"copied","alreadyThere","position"} when done')
    .action(async (opts: { to: string; restart?: boolean; json?: boolean }) => {
      if (!ESDB_CONNECTION_STRING.test(opts.to)) fail(`--to: ${ESDB_CONNECTION_HINT}`);
      const ctx = await openContext(program.opts().config);
      if (ctx.config.store.kind !== 'sqlite')
        fail('store migrate copies the embedded SQLite store: this config already uses esdb');
      // Loaded here only: every other CLI command would pay for the gRPC client.
      const { openEsdbEventStore } = await import(
        '../../../adapters/event-store/esdb/esdb-event-store.js'
      );
      const target = openEsdbEventStore({
        connectionString: opts.to,
        // The schema's default for store.blobMaxAge: bodies outlive the longest queue age.
        blobMaxAgeSeconds: 7 * 24 * 3600,
      });
      const file = checkpointFile(ctx.config.dataDir, opts.to);
      const after =
        !opts.restart && existsSync(file) ? BigInt(readFileSync(file, 'utf8').trim()) : undefined;
      const bar = process.stderr.isTTY
        ? new SingleBar({
            format: 'migrate [{bar}] {percentage}% | {value}/{total} positions | {events} events',
            hideCursor: true,
            stream: process.stderr,
          })
        : undefined;
      let started = false;
      let saved = Date.now();
      try {
        const result = await migrateStore(ctx.store, target, {
          ...(after !== undefined ? { after } : {}),
          onProgress: ({ events, position, head }) => {
            if (bar && !started) {
              bar.start(Number(head) || 1, 0, { events: 0 });
              started = true;
            }
            bar?.update(Number(position), { events });
            // A checkpoint a second: an interrupted copy picks up about where it stopped.
            if (Date.now() - saved > 1000) {
              writeFileSync(file, String(position));
              saved = Date.now();
            }
          },
        });
        writeFileSync(file, String(result.position));
        bar?.stop();
        if (opts.json) process.stdout.write(`${toJson(result)}\n`);
        else
          process.stdout.write(
            `copied ${result.copied} events (${result.alreadyThere} were there already) up to position ${result.position}\n`,
          );
      } finally {
        bar?.stop();
        await target.close();
        await ctx.close();
      }
    });
};
