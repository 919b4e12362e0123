import { randomUUID } from 'node:crypto';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { handleCommand } from '../../../domain/command-handling/handle-command.js';
import {
  type CredentialCommand,
  CredentialError,
  credentialDecider,
  credentialStream,
} from '../../../domain/credential/credential.js';
import { isCidr } from '../../../domain/network/network-matcher.js';
import { capsFor } from '../../../domain/volume-limit/volume-limit.js';
import {
  credentialUsage,
  credentialVolumeProjection,
} from '../../../projections/credential-volume/credential-volume.js';
import {
  type CredentialRow,
  credentialsProjection,
  findActiveCredential,
  listApiKeys,
  listCredentials,
} from '../../../projections/credentials/credentials.js';
import type { ReadModelDb } from '../../../projections/runner/read-model-db.js';
import { createApiKey } from '../../credentials/create-api-key.js';
import { createCredential, credentialUsername } from '../../credentials/create-credential.js';
import { fail, openContext, toJson } from '../cli-context.js';

const unsubscribeOption = (value: string | undefined): 'on' | 'off' | null =>
  value === undefined
    ? null
    : value === 'on' || value === 'off'
      ? value
      : fail(`--unsubscribe: expected on or off, not ${value}`);

const credentialNamed = (db: ReadModelDb, key: string): CredentialRow => {
  const all = listCredentials(db);
  const exact = all.find((c) => c.id === key || c.username === key);
  if (exact) return exact;
  const byName = all.filter((c) => c.name === key && c.status === 'active');
  if (byName.length > 1) fail(`${byName.length} credentials are named ${key}: give the username`);
  return byName[0] ?? fail(`no credential ${key}`);
};

const networksOption = (value: string, previous: string[] = []): string[] => {
  if (!isCidr(value))
    fail(`--allow: "${value}" is not a network in CIDR form (192.0.2.0/24, 2001:db8::/32)`);
  return [...previous, value];
};

/** `used / cap`, or `used` where no cap applies. */
const ofCap = (used: number, cap: number | undefined): string =>
  cap === undefined ? String(used) : `${used} / ${cap}`;

const statusOf = (c: Pick<CredentialRow, 'status' | 'paused'>): string =>
  c.status === 'revoked'
    ? 'revoked'
    : c.paused
      ? `paused (${c.paused.by}): ${c.paused.reason}`
      : 'active';

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

export const credentialsCommand = (program: Command): void => {
  const credentials = program
    .command('credentials')
    .description(
      'SMTP AUTH credentials and HTTP API keys: create, list, revoke; pause, resume, allow; usage against the caps',
    );

  credentials
    .command('add <name>')
    .description('create a credential and print its username and password (shown once)')
    .requiredOption('--domain <domain>', 'sending domain the credential belongs to')
    .option('--pool <name>', 'egress pool its mail leaves from (egress.pools)')
    .option(
      '--unsubscribe <on|off>',
      'one-click unsubscribe headers on all its mail (on) or none (off); default: bulk mail only',
    )
    .option(
      '--allow <cidr>',
      'a network it may authenticate from (repeat for more); default: anywhere',
      networksOption,
    )
    .option('--api-key', 'also create an HTTP API key (Mailgun, SendGrid, Postmark APIs)')
    .option('--json', 'print {"id","username","password"} (and "apiKey" with --api-key)')
    .action(
      async (
        name: string,
        opts: {
          domain: string;
          pool?: string;
          unsubscribe?: string;
          allow?: string[];
          apiKey?: boolean;
          json?: boolean;
        },
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
            allowedNetworks: opts.allow ?? [],
          });
          const apiKey = opts.apiKey ? (await createApiKey(ctx.store, id)).apiKey : undefined;
          if (opts.json)
            process.stdout.write(`${JSON.stringify({ id, username, password, apiKey })}\n`);
          else {
            const table = new Table();
            table.push({ id }, { username }, { password }, { domain: opts.domain.toLowerCase() });
            if (apiKey) table.push({ 'api key': apiKey });
            process.stdout.write(
              `${table.toString()}\nThe password${apiKey ? ' and API key are' : ' is'} shown once; store ${apiKey ? 'them' : 'it'} now.\n`,
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
            statusOf(r),
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
        const match = credentialNamed(ctx.readDb, key);
        await handleCommand(
          ctx.store,
          credentialStream(match.id),
          credentialDecider,
          { type: 'RevokeCredential', credentialId: match.id, at: Date.now() },
          { newEventId: () => randomUUID() },
        );
        process.stdout.write(`revoked ${match.username} (${match.id})\n`);
      } finally {
        await ctx.close();
      }
    });

  /** Runs one credential command against the credential named on the command line. */
  const decideFor = async (
    ref: string,
    command: (credential: CredentialRow, at: number) => CredentialCommand,
    done: (credential: CredentialRow, changed: boolean) => string,
  ) => {
    const ctx = await openContext(program.opts().config, [credentialsProjection]);
    try {
      const credential = credentialNamed(ctx.readDb, ref);
      const { events } = await handleCommand(
        ctx.store,
        credentialStream(credential.id),
        credentialDecider,
        command(credential, Date.now()),
        { newEventId: () => randomUUID() },
      ).catch((error: unknown) =>
        error instanceof CredentialError ? fail(error.message) : Promise.reject(error),
      );
      process.stdout.write(`${done(credential, events.length > 0)}\n`);
    } finally {
      await ctx.close();
    }
  };

  credentials
    .command('pause <credential>')
    .description(
      'refuse its submissions (SMTP 451 4.7.1, HTTP 4xx) until `credentials resume`; mail already accepted is still delivered',
    )
    .option(
      '--reason <text>',
      'why, shown to its clients and in `credentials usage`',
      'paused by an operator',
    )
    .action((ref: string, opts: { reason: string }) =>
      decideFor(
        ref,
        (c, at) => ({ type: 'PauseCredential', credentialId: c.id, reason: opts.reason, at }),
        (c, changed) => (changed ? `paused ${c.username}` : `${c.username} was already paused`),
      ),
    );

  credentials
    .command('resume <credential>')
    .description('let a paused credential submit again (paused by an operator or by an anomaly)')
    .action((ref: string) =>
      decideFor(
        ref,
        (c, at) => ({ type: 'ResumeCredential', credentialId: c.id, at }),
        (c, changed) => (changed ? `resumed ${c.username}` : `${c.username} was not paused`),
      ),
    );

  credentials
    .command('allow <credential> [cidr...]')
    .description(
      'the networks it may authenticate from (SMTP AUTH and API keys); AUTH from elsewhere fails as a wrong password would',
    )
    .option('--anywhere', 'lift the restriction: any address may authenticate')
    .action((ref: string, cidrs: string[], opts: { anywhere?: boolean }) => {
      if (opts.anywhere && cidrs.length > 0) fail('give networks or --anywhere, not both');
      if (!opts.anywhere && cidrs.length === 0) fail('give at least one network, or --anywhere');
      const networks = cidrs.reduce<string[]>((all, c) => networksOption(c, all), []);
      return decideFor(
        ref,
        (c, at) => ({
          type: 'SetAllowedNetworks',
          credentialId: c.id,
          allowedNetworks: networks,
          at,
        }),
        (c) =>
          `${c.username} may authenticate from ${networks.length ? networks.join(', ') : 'anywhere'}`,
      );
    });

  credentials
    .command('usage')
    .description(
      'what each credential submitted in the rolling hour and day, against its caps (limits.credentials)',
    )
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const ctx = await openContext(program.opts().config, [
        credentialsProjection,
        credentialVolumeProjection,
      ]);
      try {
        const used = new Map(
          credentialUsage(ctx.readDb, Date.now()).map((u) => [u.credentialId, u]),
        );
        const none = { messages: 0, recipients: 0 };
        const rows = listCredentials(ctx.readDb)
          .filter((c) => c.status === 'active' || used.has(c.id))
          .map((c) => ({
            id: c.id,
            name: c.name,
            username: c.username,
            status: c.status,
            paused: c.paused,
            allowedNetworks: c.allowedNetworks,
            hour: used.get(c.id)?.hour ?? none,
            day: used.get(c.id)?.day ?? none,
            caps: capsFor(ctx.config.limits.credentials, c.name) ?? {},
          }));
        if (opts.json) return void process.stdout.write(`${toJson(rows)}\n`);
        const table = new Table({
          head: [
            'credential',
            'hour: messages',
            'recipients',
            'day: messages',
            'recipients',
            'status',
          ],
        });
        for (const r of rows)
          table.push([
            r.username,
            ofCap(r.hour.messages, r.caps.hour?.messages),
            ofCap(r.hour.recipients, r.caps.hour?.recipients),
            ofCap(r.day.messages, r.caps.day?.messages),
            ofCap(r.day.recipients, r.caps.day?.recipients),
            statusOf(r),
          ]);
        process.stdout.write(`${table.toString()}\n`);
      } finally {
        await ctx.close();
      }
    });

  const key = credentials
    .command('key')
    .description('HTTP API keys: the password of the Mailgun, SendGrid and Postmark APIs');

  key
    .command('create <idOrUsername>')
    .description('create an API key for a credential and print it (shown once)')
    .option('--json', 'print {"credentialId","keyId","apiKey"}')
    .action(async (ref: string, opts: { json?: boolean }) => {
      const ctx = await openContext(program.opts().config, [credentialsProjection]);
      try {
        const credential = credentialNamed(ctx.readDb, ref);
        if (credential.status !== 'active') fail(`credential ${ref} is revoked`);
        const { keyId, apiKey } = await createApiKey(ctx.store, credential.id);
        if (opts.json)
          return void process.stdout.write(
            `${JSON.stringify({ credentialId: credential.id, keyId, apiKey })}\n`,
          );
        const table = new Table();
        table.push({ credential: credential.username }, { 'key id': keyId }, { 'api key': apiKey });
        process.stdout.write(`${table.toString()}\nThe API key is shown once; store it now.\n`);
      } finally {
        await ctx.close();
      }
    });

  key
    .command('list [idOrUsername]')
    .description('list API keys (their last four characters, never the keys)')
    .option('--json', 'machine-readable output')
    .action(async (ref: string | undefined, opts: { json?: boolean }) => {
      const ctx = await openContext(program.opts().config, [credentialsProjection]);
      try {
        const byId = new Map(listCredentials(ctx.readDb).map((c) => [c.id, c]));
        const rows = listApiKeys(ctx.readDb, ref ? credentialNamed(ctx.readDb, ref).id : undefined);
        if (opts.json) return void process.stdout.write(`${toJson(rows)}\n`);
        const table = new Table({ head: ['key id', 'credential', 'ends in', 'status', 'created'] });
        for (const r of rows)
          table.push([
            r.keyId,
            byId.get(r.credentialId)?.username ?? r.credentialId,
            `…${r.hint}`,
            r.status,
            new Date(r.createdAt).toISOString(),
          ]);
        process.stdout.write(`${table.toString()}\n`);
      } finally {
        await ctx.close();
      }
    });

  key
    .command('revoke <keyId>')
    .description("revoke an API key: requests with it get the provider's auth error from now on")
    .action(async (keyId: string) => {
      const ctx = await openContext(program.opts().config, [credentialsProjection]);
      try {
        const found = listApiKeys(ctx.readDb).find((k) => k.keyId === keyId);
        if (!found) fail(`no API key ${keyId}`);
        await handleCommand(
          ctx.store,
          credentialStream(found!.credentialId),
          credentialDecider,
          { type: 'RevokeApiKey', credentialId: found!.credentialId, keyId, at: Date.now() },
          { newEventId: () => randomUUID() },
        );
        process.stdout.write(`revoked API key ${keyId}\n`);
      } finally {
        await ctx.close();
      }
    });
};
