/**
 * Suppression lists end to end: a hard bounce suppresses the address, a policy block does
 * not; manual adds, removes, imports and exports through the CLI; at acceptance a suppressed
 * recipient gets RecipientSuppressed and no attempt while the others go on.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  type Sink,
  startSink,
  startTestRelay,
  submit,
  type TestRelay,
  waitFor,
} from './support/relay-harness.js';
import { BIN, REPO } from './support/relay-process.js';

describe('suppression lists', () => {
  let relay: TestRelay;
  let sink: Sink; // 127.0.0.31
  let config: string;

  before(async () => {
    sink = await startSink('127.0.0.31');
    relay = await startTestRelay({
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      routes: { '*': `[127.0.0.31]:${sink.port}` },
    });
    config = join(relay.dir, 'cli.yaml');
    writeFileSync(config, `dataDir: ${relay.config.dataDir}\n`);
  });
  after(async () => {
    await relay.cleanup();
    await sink.close();
  });

  const cli = async (...args: string[]) =>
    // Asynchronously: the relay runs in this process.
    promisify(execFile)(process.execPath, [BIN, ...args, '--config', config], {
      cwd: REPO,
      encoding: 'utf8',
    });

  /** Every event of a message, once its recipients are all final. */
  const settled = (messageId: string, recipients: number) =>
    waitFor(async () => {
      const events = [];
      for await (const e of relay.store.readStream(`message-${messageId}`)) events.push(e);
      const final = events.filter((e) =>
        ['MessageDelivered', 'MessageBounced', 'RecipientSuppressed'].includes(e.type),
      );
      return final.length === recipients && events;
    }, `message ${messageId} settled`);

  const outcome = (events: Awaited<ReturnType<typeof settled>>, recipient: string) =>
    events.find(
      (e) =>
        e.type !== 'MessageAccepted' && (e.data as { recipient?: string }).recipient === recipient,
    );

  it('a hard bounce suppresses the address: the next message skips it and the others go on', async () => {
    const first = await submit(relay.smtpPort, ['permfail-gone@example.com']);
    const bounced = outcome(await settled(first, 1), 'permfail-gone@example.com');
    assert.equal(bounced?.type, 'MessageBounced');

    const second = await waitFor(async () => {
      const id = await submit(relay.smtpPort, ['permfail-gone@example.com', 'friend@example.com']);
      const events = await settled(id, 2);
      return outcome(events, 'permfail-gone@example.com')?.type === 'RecipientSuppressed' && events;
    }, 'the suppression in force');
    const suppressed = outcome(second, 'permfail-gone@example.com')?.data as
      | { scope: string; reason: string }
      | undefined;
    assert.deepEqual([suppressed?.scope, suppressed?.reason], ['global', 'hard-bounce']);
    assert.equal(outcome(second, 'friend@example.com')?.type, 'MessageDelivered');
    assert.equal(
      second.filter(
        (e) => (e.data as { recipient?: string }).recipient === 'permfail-gone@example.com',
      ).length,
      1,
      'no attempt for the suppressed one',
    );
  });

  it('a policy block (550 5.7.1 on our IP) does not suppress', async () => {
    const first = await submit(relay.smtpPort, ['blocked-ip@example.com']);
    await settled(first, 1);
    await new Promise((r) => setTimeout(r, 300));
    const second = await submit(relay.smtpPort, ['blocked-ip@example.com']);
    const events = await settled(second, 1);
    const again = outcome(events, 'blocked-ip@example.com');
    assert.equal(again?.type, 'MessageBounced', 'attempted again');
    assert.equal(
      (again?.data as { classification: { severity: string } } | undefined)?.classification
        .severity,
      'policy',
    );
  });

  it('suppressions add, list, remove, import and export through the CLI; a domain list applies to its sender only', async () => {
    await cli(
      'suppressions',
      'add',
      'Manual@Example.com',
      '--scope',
      'global',
      '--note',
      'asked by phone',
    );
    await cli('suppressions', 'add', 'brand-only@example.com', '--scope', 'domain:sender.test');
    const listed = JSON.parse((await cli('suppressions', 'list', '--json')).stdout) as Array<{
      scope: string;
      address: string;
      reason: string;
    }>;
    assert.ok(listed.some((r) => r.scope === 'global' && r.address === 'manual@example.com'));
    assert.ok(listed.some((r) => r.scope === 'domain:sender.test' && r.reason === 'manual'));

    const id = await submit(relay.smtpPort, ['manual@example.com', 'brand-only@example.com']);
    const events = await settled(id, 2);
    assert.equal(outcome(events, 'manual@example.com')?.type, 'RecipientSuppressed');
    assert.equal(outcome(events, 'brand-only@example.com')?.type, 'RecipientSuppressed');
    const otherBrand = await submit(relay.smtpPort, ['brand-only@example.com'], {
      from: 'news@other.test',
    });
    assert.equal(
      outcome(await settled(otherBrand, 1), 'brand-only@example.com')?.type,
      'MessageDelivered',
    );

    await cli('suppressions', 'remove', 'manual@example.com', '--scope', 'global');
    const lifted = await submit(relay.smtpPort, ['manual@example.com']);
    assert.equal(outcome(await settled(lifted, 1), 'manual@example.com')?.type, 'MessageDelivered');

    const csv = join(relay.dir, 'list.csv');
    writeFileSync(
      csv,
      'address,reason,expires\nimported1@example.com,complaint,\nimported2@example.com,,2000-01-01T00:00:00Z\nimported3@example.com,unsubscribe,\n',
    );
    const imported = await cli('suppressions', 'import', csv, '--scope', 'credential:shop');
    assert.match(imported.stdout, /3 suppressed on credential:shop/);
    const exported = (await cli('suppressions', 'export', '--scope', 'credential:shop')).stdout;
    const lines = exported.trim().split('\r\n');
    assert.equal(lines[0], 'scope,address,reason,added_at,expires_at,source');
    // The one whose expiry has passed is not in force.
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(',').slice(0, 3).join(',')),
      [
        'credential:shop,imported1@example.com,complaint',
        'credential:shop,imported3@example.com,unsubscribe',
      ],
    );

    // What export wrote reads back: into another list, columns by their header.
    const roundTrip = join(relay.dir, 'exported.csv');
    writeFileSync(roundTrip, exported);
    const copied = await cli('suppressions', 'import', roundTrip, '--scope', 'domain:shop.test');
    assert.match(copied.stdout, /2 suppressed on domain:shop\.test/);
    const copy = JSON.parse(
      (await cli('suppressions', 'list', '--json', '--scope', 'domain:shop.test')).stdout,
    ) as Array<{ address: string; reason: string }>;
    assert.deepEqual(copy.map((r) => `${r.address} ${r.reason}`).sort(), [
      'imported1@example.com complaint',
      'imported3@example.com unsubscribe',
    ]);

    const bad = join(relay.dir, 'bad.csv');
    writeFileSync(bad, 'fine@example.com\nnot-an-address\nalso@example.com,sometimes\n');
    const refused = await cli('suppressions', 'import', bad, '--scope', 'global').catch(
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal((refused as { code: number }).code, 1);
    assert.match((refused as { stderr: string }).stderr, /nothing imported; 2 bad line\(s\)/);
    assert.match(
      (refused as { stderr: string }).stderr,
      /bad\.csv:2: not an email address: not-an-address/,
    );
    assert.match((refused as { stderr: string }).stderr, /bad\.csv:3: reason sometimes/);
    const after = JSON.parse(
      (await cli('suppressions', 'list', '--json', '--scope', 'global')).stdout,
    ) as Array<{
      address: string;
    }>;
    assert.ok(!after.some((r) => r.address === 'fine@example.com'), 'nothing of the bad file');
  });
});
