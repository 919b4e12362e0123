/**
 * `mailtrail webhooks` and `mailtrail audit` as operators run them: child processes against
 * the data folder of a running relay.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { dataPaths } from '../../src/apps/relay/data-paths.js';
import type { MessageAccepted } from '../../src/domain/message/events.js';
import { type ApiRelay, startApiRelay } from '../support/api-relay.js';
import { acceptedMessages } from '../support/fixtures.js';
import { waitFor } from '../support/relay-harness.js';
import { BIN, REPO } from '../support/relay-process.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

type Json = Record<string, unknown>;

describe('mailtrail webhooks and audit', () => {
  let api: ApiRelay;
  let receiver: WebhookReceiver;
  let config: string;
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, '--config', config, ...args], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  /** The same, without blocking this process: for commands that talk to the receiver here. */
  const runAsync = (...args: string[]): Promise<{ code: number | null; stdout: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, '--config', config, ...args], { cwd: REPO });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.on('close', (code) => resolve({ code, stdout }));
    });

  before(async () => {
    api = await startApiRelay('127.0.0.72');
    receiver = await startWebhookReceiver('127.0.0.73');
    config = join(api.relay.dir, 'mailtrail.yaml');
    writeFileSync(config, `dataDir: ${api.relay.config.dataDir}\nhostname: relay.test\n`);
  });
  after(async () => {
    await api.close();
    await receiver.close();
  });

  let webhookId: string;
  let signingKey: string;
  let messageId: string;

  it('add prints the id and signing key; list shows the endpoint; a bad --events is refused', () => {
    const added = run(
      'webhooks',
      'add',
      '--credential',
      'app',
      '--url',
      receiver.url('/cli'),
      '--format',
      'native',
      '--json',
    );
    assert.equal(added.code, 0, added.stderr);
    ({ webhookId, signingKey } = JSON.parse(added.stdout) as {
      webhookId: string;
      signingKey: string;
    });
    assert.match(webhookId, /^wh_/);
    const listed = JSON.parse(run('webhooks', 'list', '--json').stdout) as Json[];
    assert.deepEqual(
      listed.map((w) => [w.webhookId, w.format, w.status]),
      [[webhookId, 'native', 'active']],
    );
    const bad = run(
      'webhooks',
      'add',
      '--credential',
      'app',
      '--url',
      receiver.url('/x'),
      '--format',
      'postmark',
      '--events',
      'accepted',
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /the postmark format has no accepted event/);
    const table = run('webhooks', 'list');
    assert.match(table.stdout, new RegExp(webhookId));
  });

  it('test posts a signed sample now and shows the answer', async () => {
    const tested = await runAsync('webhooks', 'test', webhookId, '--json');
    assert.equal(tested.code, 0, tested.stdout);
    assert.equal((JSON.parse(tested.stdout) as Json).status, 200);
    const request = receiver.requests.at(-1);
    assert.ok(request);
    const [, t, v1] = /^t=(\d+),v1=(\w+)$/.exec(
      String(request.headers['x-mailtrail-signature']),
    ) as string[];
    assert.equal(v1, createHmac('sha256', signingKey).update(`${t}.${request.body}`).digest('hex'));
    assert.equal((JSON.parse(request.body.toString()) as Json).kind, 'delivered');
  });

  it('attempts shows each post for a message; replay sends it all again', async () => {
    const response = await fetch(`${api.baseUrl}/v3/${api.domain}/messages`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`api:${api.apiKey}`).toString('base64')}` },
      body: new URLSearchParams({
        from: `team@${api.domain}`,
        to: 'cli@example.com',
        subject: 'cli',
        text: 'Hi',
      }),
    });
    assert.equal(response.status, 200);
    messageId = await waitFor(
      async () =>
        (await acceptedMessages(api.relay.store))
          .map((e) => (e.data as MessageAccepted['data']).messageId)
          .at(-1),
      'accepted',
    );
    // Not spawnSync: the receiver and the relay's dispatcher share this event loop, and each
    // look takes the CLI seconds.
    const attempts = await waitFor(
      async () => {
        const shown = JSON.parse(
          (await runAsync('webhooks', 'attempts', messageId, '--json')).stdout,
        ) as {
          attempts: Json[];
        };
        return shown.attempts.length >= 2 && shown.attempts;
      },
      'two attempts',
      60_000,
    );
    assert.deepEqual(
      attempts.map((a) => [a.kind, a.outcome, a.status]),
      [
        ['accepted', 'delivered', 200],
        ['delivered', 'delivered', 200],
      ],
    );
    const before = receiver.requests.length;
    const replayed = run('webhooks', 'replay', '--endpoint', webhookId, '--since', '1h');
    assert.equal(replayed.code, 0, replayed.stderr);
    await waitFor(() => receiver.requests.length >= before + 2, 'the replayed posts');
  });

  it('audit verify passes on the untouched log and names the position of an altered event', () => {
    const clean = run('audit', 'verify', '--json');
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.equal((JSON.parse(clean.stdout) as Json).ok, true);
    const shown = run('messages', 'show', messageId).stdout;
    assert.match(shown, /integrity: verified/);
    assert.match(
      shown,
      new RegExp(`webhooks: 2 delivered \\(mailtrail webhooks attempts ${messageId}\\)`),
    );
    const db = new Database(dataPaths(api.relay.config).events);
    const row = db
      .prepare("SELECT position FROM events WHERE stream_name = ? AND type = 'MessageAccepted'")
      .get(`message-${messageId}`) as { position: number };
    db.prepare(
      "UPDATE events SET data = replace(data, 'cli@example.com', 'evil@example.com') WHERE position = ?",
    ).run(row.position);
    db.close();
    const tampered = run('audit', 'verify', '--json');
    assert.equal(tampered.code, 1);
    const report = JSON.parse(tampered.stdout) as { ok: boolean; findings: Json[] };
    assert.equal(report.ok, false);
    assert.deepEqual(report.findings[0], {
      position: String(row.position),
      streamName: `message-${messageId}`,
      revision: '0',
      problem: 'altered',
    });
    assert.match(run('audit', 'verify').stdout, new RegExp(`position ${row.position} .*altered`));
    assert.match(run('messages', 'show', messageId).stdout, /integrity: FAILED at revision 0/);
  });

  it('remove stops the endpoint', () => {
    assert.equal(run('webhooks', 'remove', webhookId).code, 0);
    const listed = JSON.parse(run('webhooks', 'list', '--json').stdout) as Json[];
    assert.equal(listed[0]?.status, 'removed');
  });
});
