import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseHostPort } from '../../config/schema.js';
import { createSmartSink } from '../../sink/smart-sink.js';
import { fail } from '../cli-context.js';

export const sinkCommand = (program: Command): void => {
  program
    .command('sink')
    .description(
      'a smart SMTP sink for tests: replies by recipient local-part (tempfail, permfail, full, greylist, disconnect)',
    )
    .requiredOption('--listen <host:port>', 'address to listen on, e.g. 127.0.0.1:2526')
    .option('--save-dir <dir>', 'keep each accepted message as a file')
    .option('--tls-key <file>', 'offer STARTTLS with this key (PEM)')
    .option('--tls-cert <file>', 'and this certificate (PEM)')
    .action(
      async (opts: { listen: string; saveDir?: string; tlsKey?: string; tlsCert?: string }) => {
        const address =
          parseHostPort(opts.listen) ?? fail(`--listen: expected HOST:PORT, got "${opts.listen}"`);
        const sink = createSmartSink({
          ...(opts.saveDir ? { saveDir: opts.saveDir } : {}),
          ...(opts.tlsKey && opts.tlsCert
            ? { tls: { key: readFileSync(opts.tlsKey), cert: readFileSync(opts.tlsCert) } }
            : {}),
          onTransaction: (t) => process.stdout.write(`${JSON.stringify(t)}\n`),
        });
        const port = await sink.listen(address.port, address.host);
        process.stderr.write(`mailtrail sink listening on ${address.host}:${port}\n`);
        const stop = () => void sink.close().then(() => process.exit(0));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      },
    );
};
