import { randomUUID } from 'node:crypto';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { handleCommand } from '../../../domain/command-handling/handle-command.js';
import { credentialDecider, credentialStream } from '../../../domain/credential/credential.js';
import {
  credentialsProjection,
  findActiveCredential,
  listCredentials,
} from '../../../projections/credentials/credentials.js';
import { createCredential, credentialUsername } from '../../credentials/create-credential.js';
import { fail, openContext, toJson } from '../cli-context.js';

const unsubscribeOption = (value: string | undefined): 'on' | 'off' | null =>
  value === undefined
    ? null
    : value === 'on' || value === 'off'
      ? value
      : fail(`--unsubscribe: expected on or off, not ${value}`);

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

export const credentialsCommand = (program: Command): void => {
  const credentials = program
    .command('credentials')
    .description('SMTP AUTH credentials: create, list, revoke');

  credentials
    .command('add <name>')
    .description('create a credential and print its username and password (shown once)')
    .requiredOption('--domain <domain>', 'sending domain the credential belongs to')
    .option('--pool <name>', 'egress pool its mail leaves from (egress.pools)')
    .option(
      '--unsubscribe <on|off>',
      'one-click unsubscribe headers on all its mail (on) or none (off); default: bulk mail only',
    )
    .option('--json', 'print {"id","username","password"}')
    .action(
      async (
        name: string,
        opts: { domain: string; pool?: string; unsubscribe?: string; json?: boolean },
      ) => {
        if (!DOMAIN.test(opts.domain)) fail(`--domain: "${opts.domain}" is not a domain name`);
        if (!/^[A-Za-z0-9._@+-]{1,64}$/.test(name))
          fail('name: use letters, digits and . _ @ + - (64 at most)');
        const ctx = await openContext(program.opts().config, [credentialsProjection]);
        try {
          const username = credentialUsername(name, opts.domain);
          if (findActiveCredential(ctx.readDb, username))
            fail(`a credential with username ${username} exists`);
          if (opts.pool && !(opts.pool in ctx.config.egress.pools))
            fail(`--pool: no egress pool named ${opts.pool} in the config`);
          const { id, password } = await createCredential(ctx.store, {
            name,
            domain: opts.domain,
            pool: opts.pool ?? null,
            unsubscribe: unsubscribeOption(opts.unsubscribe),
          });
          if (opts.json) process.stdout.write(`${JSON.stringify({ id, username, password })}\n`);
          else {
            const table = new Table();
            table.push({ id }, { username }, { password }, { domain: opts.domain.toLowerCase() });
            process.stdout.write(
              `${table.toString()}\nThe password is shown once; store it now.\n`,
            );
          }
        } finally {
          await ctx.close();
        }
      },
    );

  credentials
    .command('list')
    .description('list credentials (never their passwords)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const ctx = await openContext(program.opts().config, [credentialsProjection]);
      try {
        const rows = listCredentials(ctx.readDb).map(({ passwordHash: _, ...rest }) => rest);
        if (opts.json) return void process.stdout.write(`${toJson(rows)}\n`);
        const table = new Table({
          head: ['id', 'name', 'username', 'domains', 'status', 'created'],
        });
        for (const r of rows)
          table.push([
            r.id,
            r.name,
            r.username,
            r.domains.join(' '),
            r.status,
            new Date(r.createdAt).toISOString(),
          ]);
        process.stdout.write(`${table.toString()}\n`);
      } finally {
        await ctx.close();
      }
    });

  credentials
    .command('revoke <idOrUsername>')
    .description('revoke a credential: AUTH with it fails from now on')
    .action(async (key: string) => {
      const ctx = await openContext(program.opts().config, [credentialsProjection]);
      try {
        const match = listCredentials(ctx.readDb).find((c) => c.id === key || c.username === key);
        if (!match) fail(`no credential ${key}`);
        await handleCommand(
          ctx.store,
          credentialStream(match!.id),
          credentialDecider,
          { type: 'RevokeCredential', credentialId: match!.id, at: Date.now() },
          { newEventId: () => randomUUID() },
        );
        process.stdout.write(`revoked ${match!.username} (${match!.id})\n`);
      } finally {
        await ctx.close();
      }
    });
};
