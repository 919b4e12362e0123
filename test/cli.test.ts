/**
 * The `mailtrail` command as users run it: a child process per command, against a data
 * folder a real relay filled.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { handleCommand } from '../src/domain/command-handling/handle-command.js';
import { siteDecider, siteStream } from '../src/domain/site-state/site-state.js';
import { deliveryQueueProjection } from '../src/projections/delivery-queue/delivery-queue.js';
import { listRecipients } from '../src/projections/delivery-queue/queries.js';
import { PROJECTIONS } from '../src/projections/registry.js';
import {
  type Sink,
  startSink,
  startTestRelay,
  submit,
  type TestRelay,
  waitFor,
} from './support/relay-harness.js';
import { BIN, exited, freePort, REPO, waitForPort } from './support/relay-process.js';

const run = (args: string[], env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('mailtrail CLI', () => {
  let relay: TestRelay;
  let sink: Sink;
  let config: string;
  let messageId: string;

  before(async () => {
    sink = await startSink('127.0.0.2');
    relay = await startTestRelay({
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      routes: { '*': `[127.0.0.2]:${sink.port}` },
    });
    config = join(relay.dir, 'mailtrail.yaml');
    writeFileSync(config, `dataDir: ${relay.config.dataDir}\n`);
    messageId = await submit(relay.smtpPort, ['ok@example.com', 'permfail@example.com']);
    await waitFor(
      () =>
        listRecipients(relay.readDb, {}).filter(
          (r) => r.messageId === messageId && ['delivered', 'bounced'].includes(r.status),
        ).length === 2,
      'both recipients final',
    );
  });
  after(async () => {
    await relay.cleanup();
    await sink.close();
  });

  it('every command has --help', () => {
    for (const args of [
      [],
      ['serve'],
      ['credentials'],
      ['credentials', 'add'],
      ['messages', 'show'],
      ['messages', 'list'],
      ['acct', 'export'],
      ['projections', 'rebuild'],
      ['sink'],
      ['domains'],
      ['domains', 'add'],
      ['domains', 'verify'],
      ['domains', 'rotate'],
      ['domains', 'prune'],
      ['shaping'],
      ['shaping', 'validate'],
      ['shaping', 'explain'],
      ['bounces', 'classify'],
      ['bounces', 'validate'],
      ['suppressions', 'add'],
      ['suppressions', 'import'],
      ['suppressions', 'export'],
    ]) {
      const r = run([...args, '--help']);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /Usage: mailtrail/);
    }
  });

  it('credentials add --json prints id, username and password; the password is stored nowhere in clear', () => {
    const r = run(['credentials', 'add', 'billing', '--domain', 'Shop.Test', '--json'], {
      MAILTRAIL_CONFIG: config,
    });
    assert.equal(r.code, 0, r.stderr);
    const created = JSON.parse(r.stdout) as { id: string; username: string; password: string };
    assert.deepEqual(Object.keys(created), ['id', 'username', 'password']);
    assert.equal(created.username, 'billing@shop.test');
    assert.ok(created.password.length >= 20);
    const log = readFileSync(join(relay.config.dataDir, 'events.db'));
    const wal = (() => {
      try {
        return readFileSync(join(relay.config.dataDir, 'events.db-wal'));
      } catch {
        return Buffer.alloc(0);
      }
    })();
    assert.equal(log.includes(created.password), false);
    assert.equal(wal.includes(created.password), false);

    const list = JSON.parse(
      run(['credentials', 'list', '--json', '--config', config]).stdout,
    ) as Array<Record<string, unknown>>;
    const row = list.find((c) => c.id === created.id);
    assert.equal(row?.status, 'active');
    assert.equal('passwordHash' in (row ?? {}), false);

    assert.equal(run(['credentials', 'revoke', created.username, '--config', config]).code, 0);
    const after = JSON.parse(
      run(['credentials', 'list', '--json', '--config', config]).stdout,
    ) as Array<Record<string, unknown>>;
    assert.equal(after.find((c) => c.id === created.id)?.status, 'revoked');
  });

  it('credentials add refuses a bad domain with a clear message', () => {
    const r = run(['credentials', 'add', 'x', '--domain', 'not a domain', '--config', config]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--domain: "not a domain" is not a domain name/);
  });

  it('store migrate refuses a target that is not an EventStoreDB connection string', () => {
    const r = run(['store', 'migrate', '--to', 'http://127.0.0.1:2113', '--config', config]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--to: expected an EventStoreDB connection string/);
  });

  it('domains add prints the records to publish (--json for machines), and refuses bad names, unknown credentials and duplicates', () => {
    const cred = run([
      'credentials',
      'add',
      'store',
      '--domain',
      'store.test',
      '--json',
      '--config',
      config,
    ]);
    assert.equal(cred.code, 0, cred.stderr);
    const added = run([
      'domains',
      'add',
      'Store.Test',
      '--credential',
      'store',
      '--json',
      '--config',
      config,
    ]);
    assert.equal(added.code, 0, added.stderr);
    const report = JSON.parse(added.stdout) as {
      domain: {
        domain: string;
        generations: Array<{ status: string; keys: Array<{ algorithm: string }> }>;
      };
      records: Array<{ kind: string; name: string; type: string; value: string }>;
    };
    assert.equal(report.domain.domain, 'store.test');
    assert.deepEqual(
      report.domain.generations[0]?.keys.map((k) => k.algorithm),
      ['rsa-sha256', 'ed25519-sha256'],
    );
    assert.deepEqual(
      report.records
        .map((r) => `${r.kind} ${r.name} ${r.type}`)
        .map((l) => l.replace(/mt\d{8}/, 'mtDATE')),
      [
        'dkim mtDATE-rsa._domainkey.store.test TXT',
        'dkim mtDATE-ed._domainkey.store.test TXT',
        'spf store.test TXT',
        'dmarc _dmarc.store.test TXT',
        'return-path-mx bounces.store.test MX',
        'return-path-spf bounces.store.test TXT',
      ],
    );
    assert.match(report.records[0]?.value ?? '', /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/);
    assert.match(report.records[1]?.value ?? '', /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/=]{43,44}$/);

    const text = run(['domains', 'records', 'store.test', '--config', config]);
    assert.match(
      text.stdout,
      /IN TXT "v=DKIM1; k=rsa; p=[^"]{200,}" "/,
      'long TXT split into strings',
    );

    const again = run([
      'domains',
      'add',
      'store.test',
      '--credential',
      'store',
      '--config',
      config,
    ]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /store\.test is already a sending domain/);
    const bad = run(['domains', 'add', 'bad..name', '--credential', 'store', '--config', config]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /"bad\.\.name" is not a domain name we can send for: label "" must be/,
    );
    const nobody = run([
      'domains',
      'add',
      'other.test',
      '--credential',
      'nobody',
      '--config',
      config,
    ]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /no active credential nobody/);

    const list = JSON.parse(
      run(['domains', 'list', '--json', '--config', config]).stdout,
    ) as Array<{ domain: string; credentialName: string; activeSelectors: string }>;
    assert.equal(list.find((d) => d.domain === 'store.test')?.credentialName, 'store');
  });

  it('shaping validate names file and line of each error; explain says which layer and line each value comes from', async () => {
    const bad = join(relay.dir, 'bad-shaping.yaml');
    writeFileSync(bad, 'default:\n  maxConnections: 5\n  messageRate: quickly\n');
    const invalid = run(['shaping', 'validate', bad]);
    assert.equal(invalid.code, 1);
    assert.equal(
      invalid.stderr.trim(),
      `${bad}:3: default.messageRate: expected a rate such as 100/s, 3000/m, 50000/h or 1000000/d`,
    );
    // A warm-up schedule for a provider no file defines: found only once files are merged.
    const typo = join(relay.dir, 'typo-shaping.yaml');
    writeFileSync(
      typo,
      'sources:\n  mta9:\n    warmup:\n      start: 2026-11-01\n      daily: { gmial: [10] }\n',
    );
    const misnamed = run(['shaping', 'validate', typo]);
    assert.equal(misnamed.code, 1);
    assert.match(
      misnamed.stderr,
      /typo-shaping\.yaml:3: sources\.mta9\.warmup\.daily\.gmial: unknown provider "gmial" \(expected default or one of google, /,
    );
    const good = join(relay.dir, 'shaping.yaml');
    writeFileSync(good, 'domains:\n  shop.test:\n    maxConnections: 3\n    messageRate: 20/m\n');
    assert.equal(run(['shaping', 'validate', good]).code, 0);
    const withRules = join(relay.dir, 'shaping-config.yaml');
    writeFileSync(withRules, `dataDir: ${relay.config.dataDir}\nshaping: { files: [${good}] }\n`);
    const explained = run([
      'shaping',
      'explain',
      'Shop.Test',
      '--mx',
      'alt1.gmail-smtp-in.l.google.com',
      '--json',
      '--config',
      withRules,
    ]);
    assert.equal(explained.code, 0, explained.stderr);
    const out = JSON.parse(explained.stdout) as {
      site: string;
      values: Record<
        string,
        { value: unknown; layer: string; origin: { file: string; line: number } | null }
      >;
    };
    assert.equal(out.site, 'provider:google');
    assert.deepEqual(out.values.maxConnections, {
      value: 3,
      layer: 'domain',
      layerName: 'shop.test',
      origin: { file: good, line: 3 },
    });
    assert.equal(out.values.messageRate?.layer, 'domain');
    assert.equal(out.values.connectionRate?.layer, 'provider');
    assert.match(out.values.connectionRate?.origin?.file ?? '', /default-shaping\.yaml$/);
    const table = run([
      'shaping',
      'explain',
      'shop.test',
      '--mx',
      'mx.example.net',
      '--config',
      withRules,
    ]);
    const plain = table.stdout.replace(/\x1b\[[0-9;]*m/g, '');
    assert.match(plain, /site mx:mx\.example\.net/);
    assert.match(plain, /maxAge\s+│ 4d12h\s+│ config queue\.maxAge/);
    assert.match(plain, /no backoff, suspension, disabled source or queue bounce in force/);

    // A suspension on the site's stream shows, with the rule and the reply behind it.
    await handleCommand(
      relay.store,
      siteStream('mx:mx.example.net'),
      siteDecider,
      {
        type: 'Suspend',
        data: {
          at: Date.now(),
          until: Date.now() + 3_600_000,
          rule: { file: 'ops.yaml', line: 7, match: '^421' },
          reply: { code: 421, enhancedCode: '4.7.0', text: 'too many messages' },
          matches: 3,
        },
      },
      { newEventId: () => randomUUID() },
    );
    const now = run([
      'shaping',
      'explain',
      'shop.test',
      '--mx',
      'mx.example.net',
      '--config',
      withRules,
    ]);
    assert.match(
      now.stdout,
      /suspended until \S+: 3 replies matched \/\^421\/ \(ops\.yaml:7\) within its period, the last "421 4\.7\.0 too many messages"/,
    );
  });

  it('bounces classify says class, severity and rule; an operator rule file goes first; validate names file and line', () => {
    const text = run(['bounces', 'classify', '550 5.1.1 <bob@example.com>: no such user here']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /class\s+InvalidRecipient/);
    assert.match(text.stdout, /severity\s+permanent \(a bounce suppresses the recipient\)/);
    assert.match(text.stdout, /rule\s+built-in:default-bounces\.yaml:\d+ \//);
    const block = JSON.parse(
      run([
        'bounces',
        'classify',
        '554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org',
        '--json',
      ]).stdout,
    ) as { class: string; severity: string; suppresses: boolean };
    assert.deepEqual(
      [block.class, block.severity, block.suppresses],
      ['SpamBlock', 'policy', false],
    );

    const own = join(relay.dir, 'bounces.yaml');
    writeFileSync(
      own,
      "classes:\n  Moved: { bounceCat: inactive-mailbox, severity: permanent }\nrules:\n  Moved:\n    - 'no such user here'\n",
    );
    const withOwn = join(relay.dir, 'bounces-config.yaml');
    writeFileSync(withOwn, `dataDir: ${relay.config.dataDir}\nbounces: { files: [${own}] }\n`);
    const mine = JSON.parse(
      run(['bounces', 'classify', '550 5.1.1 no such user here', '--json', '--config', withOwn])
        .stdout,
    ) as { class: string; category: string; rule: string };
    assert.deepEqual(
      [mine.class, mine.category, mine.rule],
      ['Moved', 'inactive-mailbox', `${own}:5 /no such user here/`],
    );

    const bad = join(relay.dir, 'bad-bounces.yaml');
    writeFileSync(bad, "rules:\n  InvalidRecipient:\n    - 'unknown ('\n  Nonsense:\n    - 'x'\n");
    const invalid = run(['bounces', 'validate', bad]);
    assert.equal(invalid.code, 1);
    assert.match(
      invalid.stderr,
      new RegExp(`${bad}:3: rules\\.InvalidRecipient\\.0: Invalid regular expression`),
    );
    assert.match(
      invalid.stderr,
      new RegExp(`${bad}:4: rules\\.Nonsense: unknown class "Nonsense"`),
    );
    assert.equal(run(['bounces', 'validate', own]).code, 0);
  });

  it('messages show prints the timeline, and --json the events and folded state', () => {
    const text = run(['messages', 'show', messageId, '--config', config]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /accepted/);
    assert.match(text.stdout, /delivered #1/);
    assert.match(text.stdout, /bounced #1/);
    const json = JSON.parse(
      run(['messages', 'show', messageId, '--json', '--config', config]).stdout,
    );
    assert.deepEqual(json.events.map((e: { type: string }) => e.type).sort(), [
      'MessageAccepted',
      'MessageBounced',
      'MessageDelivered',
    ]);
    assert.equal(json.state.recipients['permfail@example.com'].status, 'bounced');
    assert.equal(typeof json.events[0].position, 'string');
    assert.equal(run(['messages', 'show', 'NOSUCHMESSAGE', '--config', config]).code, 1);
  });

  it('messages list filters by status and recipient', () => {
    const bounced = JSON.parse(
      run(['messages', 'list', '--status', 'bounced', '--json', '--config', config]).stdout,
    );
    assert.ok(bounced.length >= 1);
    assert.ok(bounced.every((r: { status: string }) => r.status === 'bounced'));
    const one = JSON.parse(
      run(['messages', 'list', '--recipient', 'ok@example.com', '--json', '--config', config])
        .stdout,
    );
    assert.deepEqual(
      one.map((r: { recipient: string }) => r.recipient),
      ['ok@example.com'],
    );
    assert.match(run(['messages', 'list', '--config', config]).stdout, /delivered/);
    assert.match(
      run(['messages', 'list', '--status', 'lost', '--config', config]).stderr,
      /--status: expected one of/,
    );
  });

  it('acct export writes PowerMTA CSV with a header, and JSON lines', () => {
    const csv = run(['acct', 'export', '--config', config]).stdout.split('\r\n');
    assert.equal(
      csv[0],
      'type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId',
    );
    assert.ok(csv.some((l) => l.startsWith('d,') && l.includes('ok@example.com')));
    assert.ok(
      csv.some(
        (l) =>
          l.startsWith('b,') && l.includes('permfail@example.com') && l.includes('bad-mailbox'),
      ),
    );
    const lines = run(['acct', 'export', '--format', 'jsonl', '--since', '1h', '--config', config])
      .stdout.trim()
      .split('\n');
    const records = lines.map((l) => JSON.parse(l));
    assert.ok(records.some((r) => r.type === 'b' && r.dsnStatus === '5.1.1'));
    assert.equal(
      run([
        'acct',
        'export',
        '--since',
        '2199-01-01T00:00:00Z',
        '--format',
        'jsonl',
        '--config',
        config,
      ]).stdout,
      '',
    );
  });

  it('a failure is one line that says what went wrong, with exit 1, never a stack trace', () => {
    const cases: Array<[string[], RegExp]> = [
      [['acct', 'export', '--output', '/nonexistent-dir/a.csv'], /ENOENT.*nonexistent-dir/],
      [['suppressions', 'export', '--output', '/nonexistent-dir/s.csv'], /ENOENT/],
      [['suppressions', 'import', '/nonexistent.csv', '--scope', 'global'], /ENOENT/],
      [['domains', 'verify', 'nope.example'], /no such sending domain/],
      [['suppressions', 'list', '--limit', 'abc'], /--limit: expected a positive whole number/],
    ];
    for (const [args, expected] of cases) {
      const r = run([...args, '--config', config]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, expected, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    }
  });

  it('projections rebuild rebuilds every projection; status shows none behind', () => {
    const r = run(['projections', 'rebuild', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`rebuilt delivery_queue@${deliveryQueueProjection.version} up to position \\d+`),
    );
    for (const p of PROJECTIONS) assert.ok(r.stdout.includes(`rebuilt ${p.name}@${p.version} `));
    const status = JSON.parse(run(['projections', 'status', '--json', '--config', config]).stdout);
    assert.ok(status.every((s: { behind: unknown }) => s.behind === 0));
    assert.match(
      run(['projections', 'rebuild', 'nope', '--config', config]).stderr,
      /no projection nope/,
    );
  });

  it('sink answers by local-part and logs each transaction as a JSON line', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'sink', '--listen', `127.0.0.1:${port}`], {
      cwd: REPO,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    try {
      await waitForPort(port);
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true });
      const info = await transport.sendMail({
        from: 'a@s.test',
        to: ['ok@r.test', 'permfail@r.test', 'full@r.test'],
        text: 'x',
      });
      assert.deepEqual(info.accepted, ['ok@r.test']);
      assert.deepEqual(info.rejected.sort(), ['full@r.test', 'permfail@r.test']);
      await assert.rejects(
        transport.sendMail({ from: 'a@s.test', to: 'tempfail@r.test', text: 'x' }),
        (e: { response?: string }) => /^451 4\.3\.0 /.test(e.response ?? ''),
      );
      const line = await waitFor(
        () => out.split('\n').find((l) => l.startsWith('{')),
        'a JSON line',
      );
      const logged = JSON.parse(line);
      assert.deepEqual(logged.to, ['ok@r.test']);
      assert.equal(logged.from, 'a@s.test');
      assert.equal(logged.peer, '127.0.0.1');
      assert.ok(logged.size > 0);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
  });

  it('a bad config stops the start with the key path and the expected form', () => {
    const bad = join(relay.dir, 'bad.yaml');
    writeFileSync(bad, 'smtp:\n  listen: somewhere\nqueue:\n  maxAge: soon\n');
    const r = run(['serve', '--config', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /smtp\.listen: expected HOST:PORT/);
    assert.match(r.stderr, /queue\.maxAge: expected a duration/);
  });
});
