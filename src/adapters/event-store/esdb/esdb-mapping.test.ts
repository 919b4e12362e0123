/**
 * The EventStoreDB mapping, without a server: revisions, positions, ids, filters, errors.
 * The client's own error classes are built as the client builds them from gRPC replies.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  UnavailableError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  type EventStoreError,
  isEventStoreError,
} from '../../../domain/event-store/event-store.js';
import {
  blobStream,
  fromPosition,
  isLogEvent,
  matchesFilter,
  nameUuid,
  ORIGINAL_ID_KEY,
  toEventId,
  toExpectedRevision,
  toPosition,
  toRecordedEvent,
  toServerFilter,
  toStoreError,
} from './esdb-mapping.js';

describe('EventStoreDB mapping', () => {
  it('expected revisions map one to one, bigints as they are', () => {
    assert.equal(toExpectedRevision('any'), ANY);
    assert.equal(toExpectedRevision('no_stream'), NO_STREAM);
    assert.equal(toExpectedRevision('stream_exists'), STREAM_EXISTS);
    assert.equal(toExpectedRevision(41n), 41n);
    assert.equal(toExpectedRevision(0n), 0n);
  });

  it('the global position is the commit position, and resumes with commit = prepare', () => {
    assert.equal(fromPosition({ commit: 1234n, prepare: 1200n }), 1234n);
    assert.deepEqual(toPosition(1234n), { commit: 1234n, prepare: 1234n });
    const huge = 2n ** 62n + 7n;
    assert.equal(fromPosition(toPosition(huge)), huge);
  });

  it('a UUID event id goes as it is; another id as a stable UUIDv5, kept in metadata', () => {
    const uuid = '2f1c7a0e-5b3d-4c2a-9e8f-0a1b2c3d4e5f';
    assert.deepEqual(toEventId(uuid, { a: 1 }), { id: uuid, metadata: { a: 1 } });
    const mapped = toEventId('evt-1', undefined);
    assert.match(
      mapped.id,
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.equal(mapped.id, nameUuid('evt-1'));
    assert.notEqual(nameUuid('evt-1'), nameUuid('evt-2'));
    assert.deepEqual(mapped.metadata, { [ORIGINAL_ID_KEY]: 'evt-1' });
  });

  it('a recorded event reads back with the id it was given and its own metadata only', () => {
    const recorded = toRecordedEvent({
      streamId: 'message-01',
      id: nameUuid('evt-1'),
      revision: 3n,
      type: 'MessageAccepted',
      created: new Date(5),
      data: { messageId: '01' },
      metadata: { [ORIGINAL_ID_KEY]: 'evt-1', source: 'smtp' },
      position: { commit: 99n, prepare: 99n },
    });
    assert.deepEqual(recorded, {
      eventId: 'evt-1',
      type: 'MessageAccepted',
      data: { messageId: '01' },
      metadata: { source: 'smtp' },
      streamName: 'message-01',
      revision: 3n,
      position: 99n,
      recordedAt: new Date(5),
    });
  });

  it('an event without a position (a server before 22.6) is a clear error', () => {
    assert.throws(
      () =>
        toRecordedEvent({
          streamId: 's',
          id: nameUuid('x'),
          revision: 0n,
          type: 'T',
          created: new Date(),
          data: {},
        }),
      (e) => isEventStoreError(e, 'StoreUnavailable') && /22\.6/.test(e.message),
    );
  });

  it('system events and blob streams are not part of the log', () => {
    assert.equal(isLogEvent('message-1', 'MessageAccepted'), true);
    assert.equal(isLogEvent('$stats-127.0.0.1:2113', 'Stats'), false);
    assert.equal(isLogEvent('$$message-1', '$metadata'), false);
    assert.equal(isLogEvent(blobStream('body-01'), 'Blob'), false);
  });

  it('filters: stream prefixes go to the server, event types too when alone, both match here', () => {
    const prefixes = toServerFilter({ streamPrefixes: ['message-', 'credential-'] });
    assert.equal(prefixes.filterOn, 'streamName');
    assert.deepEqual((prefixes as { prefixes: string[] }).prefixes, ['message-', 'credential-']);
    const types = toServerFilter({ eventTypes: ['MessageBounced', 'A.B'] });
    assert.equal(types.filterOn, 'eventType');
    assert.equal((types as { regex: string }).regex, '^(?:MessageBounced|A\\.B)$');
    const none = toServerFilter(undefined) as { filterOn: string; regex: string };
    assert.equal(none.filterOn, 'streamName');
    assert.ok(new RegExp(none.regex).test('message-1'));
    assert.ok(!new RegExp(none.regex).test('$stats'));
    assert.ok(!new RegExp(none.regex).test('blob-body-1'));
    const event = { streamName: 'message-1', type: 'MessageBounced' } as Parameters<
      typeof matchesFilter
    >[1];
    assert.equal(
      matchesFilter({ streamPrefixes: ['message-'], eventTypes: ['MessageBounced'] }, event),
      true,
    );
    assert.equal(
      matchesFilter({ streamPrefixes: ['message-'], eventTypes: ['Other'] }, event),
      false,
    );
    assert.equal(matchesFilter({ streamPrefixes: [] }, event), false);
  });

  it('client errors become the port codes; others pass through', () => {
    const wrong = new WrongExpectedVersionError(undefined, {
      streamName: 'message-1',
      expected: 3n,
      current: 5n,
    } as never);
    const mapped = toStoreError(wrong, 'message-1');
    assert.ok(isEventStoreError(mapped, 'WrongExpectedRevision'), String(mapped));
    assert.match(
      (mapped as EventStoreError).message,
      /message-1: expected revision 3, stream is at 5/,
    );
    const down = toStoreError(new UnavailableError());
    assert.ok(isEventStoreError(down, 'StoreUnavailable'));
    const other = new TypeError('boom');
    assert.equal(toStoreError(other), other);
  });
});
