/**
 * What an operator does to one credential from the CLI, as a child process against the
 * running relay's data: restrict where it may authenticate from (`credentials allow`),
 * stop and restart its submissions (`pause`, `resume`), and look at its volume (`usage`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { createApiKey } from '../../src/apps/credentials/create-api-key.js';
import { findCredentialById } from '../../src/projections/credentials/credentials.js';
import { addCredential } from '../support/fixtures.js';
import { startTestRelay, type TestRelay, waitFor } from '../support/relay-harness.js';
import { BIN, REPO } from '../support/relay-process.js';
import { authenticatedSmtp, type RawSmtp } from '../support/smtp-client.js';

const PASS = 'correct horse battery staple';
const USER = 'ops@sender.test';

const post = (port: number, path: string, key: string, localAddress: string) =>
  new Promise<number>((resolve, reject) => {
    const body = JSON.stringify({
      From: USER,
      To: 'x@example.com',
      Subject: 's',
      TextBody: 't',
    });
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        localAddress,
        headers: { 'x-postmark-server-token': key, 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });

const send = async (c: RawSmtp): Promise<string> => {
  const mail = await c.command(`MAIL FROM:<${USER}>\r\n`);
  if (!mail.startsWith('250')) return mail;
  await c.command('RCPT TO:<x@example.com>\r\n');
  await c.command('DATA\r\n');
  return c.command(`From: <${USER}>\r\nSubject: s\r\n\r\nx\r\n.\r\n`);
};

describe('credential controls from the CLI', () => {
  let relay: TestRelay;
  let config: string;
  let id: string;
  let apiKey: string;
  const logLines: string[] = [];
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, '--config', config, ...args], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  before(async () => {
    relay = await startTestRelay(
      {
        dns: { servers: ['127.0.0.1:9'], timeout: '100ms' },
        limits: { credentials: { ops: { hour: { messages: 50 }, day: { recipients: 500 } } } },
      },
      logLines,
    );
    config = join(relay.dir, 'mailtrail.yaml');
    writeFileSync(
      config,
      `dataDir: ${relay.config.dataDir}\nlimits:\n  credentials:\n    ops: { hour: { messages: 50 }, day: { recipients: 500 } }\n`,
    );
    id = await addCredential(relay, USER, PASS);
    ({ apiKey } = await createApiKey(relay.store, id));
  });
  after(() => relay.cleanup());

  it('allow: a right password from elsewhere fails as a wrong one would, and is logged with the address', async () => {
    const r = cli('credentials', 'allow', USER, '127.0.0.5/32', '2001:db8::/32');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /may authenticate from 127\.0\.0\.5\/32, 2001:db8::\/32/);
    await waitFor(
      () => findCredentialById(relay.readDb, id)?.allowedNetworks.length === 2,
      'allowed networks',
    );
    const outside = await authenticatedSmtp(relay.smtpPort, USER, PASS, '127.0.0.6');
    assert.match(outside.auth, /^535 5\.7\.8 Authentication credentials invalid/);
    outside.client.end();
    const logged = logLines.map((l) => JSON.parse(l)).find((l) => /allowed networks/.test(l.msg));
    assert.equal(logged?.client, '127.0.0.6');
    assert.equal(logged?.username, USER);
    const inside = await authenticatedSmtp(relay.smtpPort, USER, PASS, '127.0.0.5');
    assert.match(inside.auth, /^235 /);
    assert.match(await send(inside.client), /^250 2\.0\.0 /);
    inside.client.end();
  });

  it('allow: its API keys answer 401 from elsewhere too', async () => {
    assert.equal(await post(relay.httpPort, '/email', apiKey, '127.0.0.6'), 401);
    assert.equal(await post(relay.httpPort, '/email', apiKey, '127.0.0.5'), 200);
  });

  it('allow --anywhere lifts the restriction; a bad network is refused by name', () => {
    const bad = cli('credentials', 'allow', USER, '10.0.0.0/33');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /"10\.0\.0\.0\/33" is not a network in CIDR form/);
    assert.equal(cli('credentials', 'allow', USER, '--anywhere').code, 0);
  });

  it('pause: submissions get 451 4.7.1 with the reason until resume', async () => {
    await waitFor(
      () => findCredentialById(relay.readDb, id)?.allowedNetworks.length === 0,
      'restriction lifted',
    );
    const paused = cli('credentials', 'pause', USER, '--reason', 'password leaked, ticket 42');
    assert.equal(paused.code, 0, paused.stderr);
    await waitFor(() => findCredentialById(relay.readDb, id)?.paused, 'paused');
    // The relay reads the pause within a second (its credential lookups are cached that long).
    const { client } = await authenticatedSmtp(relay.smtpPort, USER, PASS);
    const refused = await waitFor(async () => {
      const reply = await client.command(`MAIL FROM:<${USER}>\r\n`);
      if (reply.startsWith('250')) await client.command('RSET\r\n');
      return reply.startsWith('451') ? reply : null;
    }, '451 at MAIL');
    assert.match(
      refused ?? '',
      /^451 4\.7\.1 Credential ops is paused \(password leaked, ticket 42\); an operator must resume it/,
    );
    assert.equal(await post(relay.httpPort, '/email', apiKey, '127.0.0.1'), 422);
    assert.match(cli('credentials', 'pause', USER).stdout, /was already paused/);
    assert.match(cli('credentials', 'list').stdout, /paused \(operator\): password leaked/);
    assert.equal(cli('credentials', 'resume', USER).code, 0);
    await waitFor(() => findCredentialById(relay.readDb, id)?.paused === null, 'resumed');
    const sent = await waitFor(async () => {
      const reply = await send(client);
      return reply.startsWith('250') ? reply : null;
    }, '250 after resume');
    assert.match(sent ?? '', /^250 2\.0\.0 /);
    client.end();
  });

  it('usage: a table of the rolling hour and day against the caps, and --json', () => {
    const json = cli('credentials', 'usage', '--json');
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as Array<{
      username: string;
      hour: { messages: number };
      day: { recipients: number };
      caps: { hour?: { messages?: number } };
    }>;
    const ops = rows.find((r) => r.username === USER);
    // One over SMTP from the allowed address, one over the API, one after resume.
    assert.equal(ops?.hour.messages, 3);
    assert.equal(ops?.day.recipients, 3);
    assert.equal(ops?.caps.hour?.messages, 50);
    const table = cli('credentials', 'usage');
    assert.match(
      stripVTControlCharacters(table.stdout),
      /ops@sender\.test\s*│\s*3 \/ 50\s*│\s*3\s*│\s*3\s*│\s*3 \/ 500\s*│\s*active/,
    );
  });
});
