import type { Command } from 'commander';
import { pino } from 'pino';
import { configPathFrom, loadConfig } from '../../config/load-config.js';
import { startRelay } from '../../relay/relay.js';

const LISTEN_HINT: Record<string, string> = {
  EACCES: 'permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE; set smtp.listen',
  EADDRINUSE: 'the address is already in use',
};

export const serveCommand = (program: Command): void => {
  program
    .command('serve')
    .description(
      'run the relay: SMTP submission, delivery, projections (writes a default config on first run)',
    )
    .action(async () => {
      const loaded = loadConfig(configPathFrom(program.opts().config), { create: true });
      const log = pino({ level: loaded.config.log.level });
      if (loaded.created) log.info({ path: loaded.path }, 'wrote the default config');
      let relay: Awaited<ReturnType<typeof startRelay>>;
      try {
        relay = await startRelay(loaded.config, log);
      } catch (error) {
        const e = error as NodeJS.ErrnoException & { address?: string; port?: number };
        const hint = e.code ? LISTEN_HINT[e.code] : undefined;
        log.fatal(
          { err: e },
          hint ? `cannot listen on ${e.address}:${e.port}: ${hint}` : 'relay failed to start',
        );
        process.exit(1);
      }
      const stop = (signal: string) => {
        log.info({ signal }, 'stopping');
        relay.stop().then(() => process.exit(0));
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
};
