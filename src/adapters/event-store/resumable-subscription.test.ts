import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EventStoreError,
  type GlobalPosition,
  type RecordedEvent,
  type SubscriptionItem,
} from '../../domain/event-store/event-store.js';
import { resumable } from './resumable-subscription.js';

const event = (position: bigint): SubscriptionItem => ({
  kind: 'event',
  event: {
    position,
    streamName: 's',
    revision: position,
    eventId: `e${position}`,
    type: 'T',
    data: {},
    recordedAt: new Date(0),
  } as RecordedEvent,
});

/**
 * A stand-in for a server's subscription (none can run here): the log is 1..10; the first
 * two connections drop with StoreUnavailable after a few events, the third goes live.
 */
const flakyServer = () => {
  const opened: Array<GlobalPosition | undefined> = [];
  const open = async function* (after: GlobalPosition | undefined) {
    opened.push(after);
    const from = (after ?? 0n) + 1n;
    const connection = opened.length;
    for (let p = from; p <= 10n; p++) {
      if (connection <= 2 && p === from + 3n)
        throw new EventStoreError('StoreUnavailable', 'connection to the leader lost');
      yield event(p);
      if (p === 5n) yield { kind: 'caughtUp', position: 5n } as SubscriptionItem;
    }
    // Live: nothing more until the consumer stops.
    await new Promise(() => undefined);
  };
  return { open, opened };
};

describe('resumable subscription', () => {
  it('reopens after StoreUnavailable from the last position: every event once, in order', async () => {
    const server = flakyServer();
    const seen: string[] = [];
    const stop = new AbortController();
    for await (const item of resumable(server.open, { signal: stop.signal, firstWaitMs: 1 })) {
      seen.push(item.kind === 'event' ? String(item.event.position) : item.kind);
      if (item.kind === 'event' && item.event.position === 10n) break;
    }
    assert.deepEqual(seen, ['1', '2', '3', '4', '5', 'caughtUp', '6', '7', '8', '9', '10']);
    assert.deepEqual(server.opened, [undefined, 3n, 6n]);
  });

  it('a later caughtUp is passed on as a checkpoint', async () => {
    let round = 0;
    const open = async function* () {
      round++;
      yield { kind: 'caughtUp', position: 0n } as SubscriptionItem;
      if (round === 1) throw new EventStoreError('StoreUnavailable', 'down');
    };
    const kinds: string[] = [];
    for await (const item of resumable(open, { firstWaitMs: 1 })) {
      kinds.push(item.kind);
      if (kinds.length === 2) break;
    }
    assert.deepEqual(kinds, ['caughtUp', 'checkpoint']);
  });

  it('any other error ends it', async () => {
    const open = async function* (): AsyncIterable<SubscriptionItem> {
      yield event(1n);
      throw new EventStoreError('InvalidEvent', 'bad filter');
    };
    const seen: bigint[] = [];
    await assert.rejects(async () => {
      for await (const item of resumable(open, { firstWaitMs: 1 }))
        if (item.kind === 'event') seen.push(item.event.position);
    }, /bad filter/);
    assert.deepEqual(seen, [1n]);
  });

  it('an abort while waiting to reconnect ends it at once', async () => {
    const stop = new AbortController();
    // Fails on the first read, then the consumer stops during the (one-minute) wait.
    const open = (): AsyncIterable<SubscriptionItem> => ({
      [Symbol.asyncIterator]: () => ({
        next: () => Promise.reject(new EventStoreError('StoreUnavailable', 'down')),
      }),
    });
    setTimeout(() => stop.abort(), 20);
    const started = Date.now();
    for await (const _ of resumable(open, { signal: stop.signal, firstWaitMs: 60_000 }))
      assert.fail('nothing to deliver');
    assert.ok(Date.now() - started < 5_000);
  });
});
