import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqliteEventStore } from '../../adapters/event-store/sqlite/sqlite-event-store.js';
import { handleCommand } from '../../domain/command-handling/handle-command.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { messageDecider } from '../../domain/message/decider.js';
import { messageStream, NO_SUBMISSION_OPTIONS } from '../../domain/message/events.js';
import { parseSmtpReply } from '../../domain/smtp-reply/smtp-reply.js';
import { PROJECTIONS } from '../registry.js';
import { liveTables, type Projection } from './projection.js';
import { openReadModelDb, type ReadModelDb } from './read-model-db.js';
import { rebuildProjection } from './rebuild.js';
import { applyBatch, catchUpProjection, runProjection } from './run-projection.js';

const policy = { scheduleMs: [60_000], maxAgeMs: 3_600_000, jitter: 0 };
const remote = { mx: 'mx.test', ip: '127.0.0.2', sourceIp: null, tls: false, esmtp: [] };
const REPLIES = ['250 2.0.0 ok', '451 4.3.0 later', '550 5.1.1 unknown'];

let n = 0;
const writeMessage = async (store: EventStore): Promise<void> => {
  const messageId = `M${String(++n).padStart(25, '0')}`;
  const at = 1_700_000_000_000 + n * 1000;
  const stream = messageStream(messageId);
  const to = [`a${n}@x.test`, `b${n}@y.test`];
  await handleCommand(
    store,
    stream,
    messageDecider,
    {
      type: 'AcceptMessage',
      data: {
        messageId,
        acceptedAt: at,
        source: 'smtp',
        credential: { id: 'c', name: 'app' },
        client: { address: '127.0.0.1', helo: 'h', tls: true },
        envelope: {
          from: 'f@s.test',
          to: to.map((address) => ({ address, orcpt: null })),
          envId: null,
        },
        headers: { messageId: null, subject: `s${n}`, from: null },
        size: 100,
        bodyRef: `body-${messageId}`,
        jobId: null,
        lane: 'transactional',
        pool: null,
        returnPathDomain: null,
        recipientHeadersRef: null,
        ...NO_SUBMISSION_OPTIONS,
      },
    },
    { newEventId: () => randomUUID() },
  );
  await handleCommand(
    store,
    stream,
    messageDecider,
    {
      type: 'RecordAttempt',
      at: at + 500,
      policy,
      random: 0,
      results: to.map((recipient, i) => ({
        recipient,
        reply: parseSmtpReply(REPLIES[(n + i) % 3] as string),
        remote,
      })),
    },
    { newEventId: () => randomUUID() },
  );
};

const snapshot = (db: ReadModelDb, p: Projection) =>
  Object.fromEntries(
    Object.keys(p.tables).map((logical) => [
      logical,
      db.prepare(`SELECT * FROM ${liveTables(p)(logical)} ORDER BY 1, 2`).all(),
    ]),
  );

describe('projection rebuild', () => {
  let dir: string;
  let store: EventStore;
  let db: ReadModelDb;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailtrail-rebuild-'));
    store = openSqliteEventStore({ path: join(dir, 'events.db'), pollIntervalMs: 10 });
    db = openReadModelDb(join(dir, 'projections.db'));
    for (let i = 0; i < 60; i++) await writeMessage(store);
  });
  after(async () => {
    await store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const p of PROJECTIONS) {
    it(`${p.name}: a rebuild from position 0 gives the same read model`, async () => {
      await catchUpProjection(store, db, p);
      const before = snapshot(db, p);
      const position = await rebuildProjection(store, db, p);
      assert.equal(position, await store.headPosition());
      assert.deepEqual(snapshot(db, p), before);
    });
  }

  it('replaying a batch that was already applied changes nothing (checkpoint in the same transaction)', async () => {
    const p = PROJECTIONS.find((x) => x.name === 'accounting') as Projection;
    await catchUpProjection(store, db, p);
    const before = snapshot(db, p);
    const events = [];
    for await (const e of store.readAll({ filter: p.filter })) events.push(e);
    applyBatch(db, p, liveTables(p), `${p.name}@${p.version}`, events, await store.headPosition());
    assert.deepEqual(snapshot(db, p), before);
    assert.ok((before.records as unknown[]).length > 0);
  });

  it('a rebuild while the live projection keeps running loses nothing', async () => {
    const p = PROJECTIONS.find((x) => x.name === 'delivery_queue') as Projection;
    const controller = new AbortController();
    const live = runProjection(store, db, p, { signal: controller.signal });
    const writing = (async () => {
      for (let i = 0; i < 40; i++) await writeMessage(store);
    })();
    await rebuildProjection(store, db, p);
    await writing;
    const head = await store.headPosition();
    const fresh = openReadModelDb(join(dir, 'fresh.db'));
    try {
      await catchUpProjection(store, fresh, p);
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        const row = db
          .prepare('SELECT position FROM projection_checkpoints WHERE key = ?')
          .safeIntegers(true)
          .get(`${p.name}@${p.version}`) as { position: bigint };
        if (row.position >= head) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(snapshot(db, p), snapshot(fresh, p));
      assert.equal((snapshot(fresh, p).recipients as unknown[]).length, 200);
    } finally {
      controller.abort();
      await live;
      fresh.close();
    }
  });
});
