/**
 * Two relay nodes, two processes, one event log (a SQLite file both open: the same port and
 * the same membership code as on EventStoreDB) share the delivery: every message goes out
 * once, from the node owning its partition, each node within its part of the site's
 * connection limit; kill -9 one node and, once its lease runs out, the other delivers its
 * share, the mail it had deferred included.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { openSqliteEventStore } from '../../src/adapters/event-store/sqlite/sqlite-event-store.js';
import { readAssignment } from '../../src/apps/cluster/cluster-membership.js';
import { partitionOf } from '../../src/domain/cluster/partition.js';
import type { EventStore } from '../../src/domain/event-store/event-store.js';
import { messageStream } from '../../src/domain/message/events.js';
import { type Sink, startSink, waitFor } from '../support/relay-harness.js';
import { BIN, exited, freePort, REPO, spawnRelay, waitForPort } from '../support/relay-process.js';
import { submissionTransport } from '../support/smtp-client.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const NODES = {
  a: { name: 'a.relay.test', source: '127.0.0.11' },
  b: { name: 'b.relay.test', source: '127.0.0.12' },
} as const;
const MAX_CONNECTIONS = 4;

describe('several nodes sharing the delivery', () => {
  let dir: string;
  let sink: Sink;
  let events: string;
  let store: EventStore;
  const ports: Record<string, number> = {};
  const relays: Record<string, ChildProcess> = {};
  /** recipient → the id the relay answered 250 with. */
  const ids = new Map<string, string>();

  const configFor = (node: keyof typeof NODES, smtpPort: number) => {
    const path = join(dir, `${node}.yaml`);
    writeFileSync(
      path,
      [
        `dataDir: ${join(dir, `data-${node}`)}`,
        `hostname: ${NODES[node].name}`,
        `store: { kind: sqlite, path: ${events} }`,
        // Two relays, the test and fsynced writes to one file on two cores: a lease of several
        // heartbeats, so a slow write does not make a live node look dead.
        'cluster: { enabled: true, heartbeat: 200ms, lease: 4s }',
        'log: { level: warn }',
        `smtp: { listen: "127.0.0.1:${smtpPort}", trustedNetworks: ["127.0.0.1/32"] }`,
        'http: { listen: "127.0.0.1:0" }',
        'bounces: { listen: null }',
        `routes: { "*": "[127.0.0.2]:${sink.port}" }`,
        `delivery: { blockLocalAddresses: false, sourceAddress: ${NODES[node].source}, maxConnectionsPerDomain: ${MAX_CONNECTIONS} }`,
        // Greylisted mail comes back after 8 s: time for its node to die in between.
        'queue: { retry: [8s] }',
        '',
      ].join('\n'),
    );
    return path;
  };

  const send = async (node: keyof typeof NODES, recipients: readonly string[]) => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: ports[node],
      ignoreTLS: true,
      pool: true,
      maxConnections: 8,
      maxMessages: Number.POSITIVE_INFINITY,
    });
    try {
      await Promise.all(
        recipients.map(async (to) => {
          const info = await transport.sendMail({
            from: 'app@sender.test',
            to,
            subject: `cluster ${to}`,
            text: 'x'.repeat(1000),
          });
          const id = /queued as (\S+)/.exec(info.response)?.[1];
          assert.ok(id, info.response);
          ids.set(to, id);
        }),
      );
    } finally {
      transport.close();
    }
  };

  const cli = async (node: keyof typeof NODES, ...args: string[]) =>
    (
      await promisify(execFile)(
        process.execPath,
        [BIN, ...args, '--config', join(dir, `${node}.yaml`)],
        { cwd: REPO },
      )
    ).stdout;

  const deliveredTo = (recipients: readonly string[]) =>
    sink.transactions.filter(
      (t) => t.reply.startsWith('250') && recipients.includes(t.to[0] as string),
    );
  const sourceOf = (node: keyof typeof NODES) => NODES[node].source;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailtrail-cluster-'));
    events = join(dir, 'events.db');
    sink = await startSink('127.0.0.2');
    for (const node of ['a', 'b'] as const) {
      ports[node] = await freePort();
      relays[node] = spawnRelay(configFor(node, ports[node] as number));
    }
    await Promise.all(Object.values(ports).map((p) => waitForPort(p)));
    store = openSqliteEventStore({ path: events });
  });
  after(async () => {
    for (const relay of Object.values(relays)) relay.kill('SIGKILL');
    await Promise.all(Object.values(relays).map(exited));
    await store?.close();
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the two nodes split the partitions between them', async () => {
    const assignment = await waitFor(async () => {
      const { state } = await readAssignment(store);
      return state?.nodes.length === 2 ? state : undefined;
    }, 'both nodes in the assignment');
    assert.deepEqual(assignment.nodes, [NODES.a.name, NODES.b.name]);
    const counts = [NODES.a.name, NODES.b.name].map(
      (n) => assignment.owners.filter((o) => o === n).length,
    );
    assert.deepEqual(counts, [32, 32]);
    // What an operator sees.
    const stdout = await cli('a', 'cluster', 'status', '--json');
    const status = JSON.parse(stdout) as { nodes: Array<Record<string, unknown>> };
    assert.deepEqual(
      status.nodes.map((n) => [n.node, n.state, n.partitions]),
      [
        [NODES.a.name, 'live', 32],
        [NODES.b.name, 'live', 32],
      ],
    );
  });

  const plain = Array.from({ length: 160 }, (_, i) => `r${i}@cluster.test`);
  const greylisted = Array.from({ length: 24 }, (_, i) => `greylist${i}@cluster.test`);

  it('each message goes out once, from the node owning its partition, within its share of the connections', async () => {
    // Wait for both to hold their share: a node gains partitions only once the other let go.
    await new Promise((r) => setTimeout(r, 1000));
    const { state } = await readAssignment(store);
    assert.ok(state);
    // Half the load in through each node: where a message came in does not matter.
    await Promise.all([send('a', plain.slice(0, 80)), send('b', plain.slice(80))]);
    await waitFor(
      () => deliveredTo(plain).length >= plain.length || undefined,
      'all delivered',
      30_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    const delivered = deliveredTo(plain);
    assert.equal(delivered.length, plain.length, 'no message delivered twice');
    assert.equal(new Set(delivered.map((t) => t.to[0])).size, plain.length);
    for (const t of delivered) {
      const owner: string | undefined =
        state.owners[partitionOf(ids.get(t.to[0] as string) as string)];
      assert.equal(t.peer, owner === NODES.a.name ? sourceOf('a') : sourceOf('b'), `${t.to[0]}`);
    }
    const byA = delivered.filter((t) => t.peer === sourceOf('a')).length;
    assert.ok(byA > 40 && byA < 120, `node a delivered ${byA} of ${plain.length}`);
    // The site allows 4 connections: 2 each.
    assert.ok(sink.peakConnections(sourceOf('a')) <= MAX_CONNECTIONS / 2);
    assert.ok(sink.peakConnections(sourceOf('b')) <= MAX_CONNECTIONS / 2);
    assert.ok(sink.peakConnections(sourceOf('a')) >= 1 && sink.peakConnections(sourceOf('b')) >= 1);
  });

  it('each webhook notification is posted once, by the node owning its endpoint', async () => {
    let receiver: WebhookReceiver | undefined;
    try {
      receiver = await startWebhookReceiver('127.0.0.74');
      const credential = JSON.parse(
        await cli('a', 'credentials', 'add', 'app', '--domain', 'sender.test', '--json'),
      ) as { username: string; password: string };
      await cli(
        'a',
        'webhooks',
        'add',
        '--credential',
        'app',
        '--url',
        receiver.url('/hook'),
        '--format',
        'native',
        '--events',
        'delivered',
      );
      // Keys (DKIM, VERP, webhook signing keys) are shipped to every node (docs/scale-out.md).
      cpSync(join(dir, 'data-a', 'keys', 'webhooks'), join(dir, 'data-b', 'keys', 'webhooks'), {
        recursive: true,
      });
      const recipients = Array.from({ length: 40 }, (_, i) => `hooked${i}@cluster.test`);
      for (const node of ['a', 'b'] as const) {
        const transport = submissionTransport(ports[node] as number, {
          user: credential.username,
          pass: credential.password,
        });
        // The credential reaches each node's read models within a poll of the log.
        await waitFor(
          () =>
            transport.verify().then(
              () => true,
              () => undefined,
            ),
          `node ${node} knows the credential`,
        );
        const mine = node === 'a' ? recipients.slice(0, 20) : recipients.slice(20);
        await Promise.all(
          mine.map((to) =>
            transport.sendMail({ from: 'app@sender.test', to, subject: 'hooked', text: 'x' }),
          ),
        );
        transport.close();
      }
      const notified = () =>
        receiver?.requests
          .filter((r) => r.path === '/hook')
          .map((r) => JSON.parse(r.body.toString()) as { recipient: string }) ?? [];
      await waitFor(
        () => notified().length >= recipients.length || undefined,
        'notifications',
        30_000,
      );
      await new Promise((r) => setTimeout(r, 1500));
      const got = notified()
        .map((n) => n.recipient)
        .sort();
      assert.deepEqual(got, [...recipients].sort(), 'each delivery notified exactly once');
    } finally {
      await receiver?.close();
    }
  });

  it('after kill -9 of one node, the other takes its share over: its deferred mail and new mail', async () => {
    const { state } = await readAssignment(store);
    assert.ok(state);
    const ownerOf = (to: string) => state.owners[partitionOf(ids.get(to) as string)];
    await send('a', greylisted);
    // Every greylisted recipient has had its first try (450 at RCPT) before b dies.
    const deferred = async (to: string) => {
      for await (const e of store.readStream(messageStream(ids.get(to) as string)))
        if (e.type === 'DeliveryDeferred') return true;
      return false;
    };
    await waitFor(
      async () => (await Promise.all(greylisted.map(deferred))).every(Boolean) || undefined,
      'first tries of the greylisted mail',
      20_000,
    );
    assert.equal(deliveredTo(greylisted).length, 0, 'none retried yet');
    relays.b?.kill('SIGKILL');
    await exited(relays.b as ChildProcess);
    const ofB = greylisted.filter((to) => ownerOf(to) === NODES.b.name);
    assert.ok(ofB.length > 0, 'some greylisted mail is in b’s partitions');

    const survivors = await waitFor(
      async () => {
        const read = await readAssignment(store);
        return read.state?.nodes.length === 1 ? read.state : undefined;
      },
      'b dropped from the assignment',
      20_000,
    );
    assert.deepEqual(survivors.nodes, [NODES.a.name]);
    assert.ok(survivors.owners.every((o) => o === NODES.a.name));

    const late = Array.from({ length: 40 }, (_, i) => `late${i}@cluster.test`);
    await send('a', late);
    await waitFor(
      () =>
        deliveredTo([...greylisted, ...late]).length >= greylisted.length + late.length ||
        undefined,
      'greylisted and late mail delivered',
      30_000,
    );
    const greyDelivered = deliveredTo(greylisted);
    assert.equal(greyDelivered.length, greylisted.length, 'each greylisted message delivered once');
    for (const t of greyDelivered)
      assert.equal(t.peer, sourceOf('a'), `${t.to[0]}: retried by the survivor`);
    assert.ok(deliveredTo(late).every((t) => t.peer === sourceOf('a')));
  });
});
