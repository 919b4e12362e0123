import { Command } from 'commander';
import { BounceRulesError } from '../bounces/bounce-rules.js';
import { ConfigError } from '../config/load-config.js';
import { ShapingRulesError } from '../shaping/shaping-rules.js';
import { acctCommand } from './commands/acct.js';
import { auditCommand } from './commands/audit.js';
import { bouncesCommand } from './commands/bounces.js';
import { clusterCommand } from './commands/cluster.js';
import { credentialsCommand } from './commands/credentials.js';
import { domainsCommand } from './commands/domains.js';
import { messagesCommand } from './commands/messages.js';
import { projectionsCommand } from './commands/projections.js';
import { serveCommand } from './commands/serve.js';
import { shapingCommand } from './commands/shaping.js';
import { sinkCommand } from './commands/sink.js';
import { storeCommand } from './commands/store.js';
import { suppressionsCommand } from './commands/suppressions.js';
import { webhooksCommand } from './commands/webhooks.js';

const program = new Command()
  .name('mailtrail')
  .description('Event-sourced outbound SMTP relay and delivery engine')
  .option(
    '-c, --config <file>',
    'YAML config file (default: $MAILTRAIL_CONFIG or ./mailtrail.yaml)',
  )
  .showHelpAfterError();

serveCommand(program);
credentialsCommand(program);
domainsCommand(program);
messagesCommand(program);
acctCommand(program);
projectionsCommand(program);
shapingCommand(program);
storeCommand(program);
clusterCommand(program);
bouncesCommand(program);
suppressionsCommand(program);
webhooksCommand(program);
auditCommand(program);
sinkCommand(program);

// `mailtrail acct export | head`: the reader has what it wanted.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (
    error instanceof ConfigError ||
    error instanceof ShapingRulesError ||
    error instanceof BounceRulesError
  ) {
    process.stderr.write(`mailtrail: ${error.message}\n`);
    process.exit(2);
  }
  // A failure the command did not word itself (a file, the network, the store): one line
  // with its stable code, not a stack; MAILTRAIL_DEBUG=1 shows the stack.
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' && message ? message : String(error);
  const tag = typeof code === 'string' && !text.includes(code) ? ` [${code}]` : '';
  process.stderr.write(`mailtrail: ${text.split('\n')[0]}${tag}\n`);
  if (process.env.MAILTRAIL_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
}
