import { createHash } from 'node:crypto';

/**
 * Tamper evidence for the log. Every event carries two SHA-256 hashes, each over the hash
 * before it and the event as stored: one chains all events in position order, one chains
 * the events of its stream. Changing, removing or reordering a stored event breaks the
 * chain at that event or the next; only cutting events off the end leaves no mark, which is
 * why `audit verify` prints the head hash, for an auditor to note and compare later.
 */
export interface ChainedFields {
  readonly streamName: string;
  readonly revision: bigint;
  readonly eventId: string;
  readonly type: string;
  /** The payload and metadata exactly as stored (JSON text): what was written is hashed. */
  readonly data: string;
  readonly metadata: string | null;
  readonly recordedAt: number;
}

const GENESIS = new Uint8Array(32);

/** The chain hash of an event after `previous` (null: the first of its chain). */
export const chainHash = (previous: Uint8Array | null, event: ChainedFields): Buffer =>
  createHash('sha256')
    .update(previous ?? GENESIS)
    // A JSON array: no field can run into the next, whatever it contains.
    .update(
      JSON.stringify([
        event.streamName,
        event.revision.toString(),
        event.eventId,
        event.type,
        event.recordedAt,
        event.metadata,
        event.data,
      ]),
    )
    .digest();

/** An event as stored with its hashes, and its stream's previous event's hash. */
export interface ChainedEvent extends ChainedFields {
  readonly position: bigint;
  /** Null on events stored before the log kept hashes. */
  readonly hash: Uint8Array | null;
  readonly streamHash: Uint8Array | null;
  /** The stream hash of revision − 1; null when there is none (or it is gone). */
  readonly previousStreamHash: Uint8Array | null;
}

export type ChainProblem =
  | 'altered' // this event is not what was hashed when it was stored
  | 'missing-before' // an event before it in the log was removed, or its hash changed
  | 'missing-in-stream' // the event before it in its stream is gone
  | 'unhashed'; // stored without hashes (an event that bypassed the store, or a legacy one)

export interface ChainFinding {
  readonly position: bigint;
  readonly streamName: string;
  readonly revision: bigint;
  readonly problem: ChainProblem;
}

const same = (a: Uint8Array | null, b: Uint8Array): boolean =>
  a !== null && a.length === b.length && Buffer.compare(a, b) === 0;

/**
 * Checks events in position order, starting after the event whose global hash is `start`
 * (null: the log's beginning). Each event is judged on its own, then the walk goes on from
 * its stored hash, so one damaged event is reported once and the rest still checked.
 */
export const createChainVerifier = (start: Uint8Array | null) => {
  let previous = start;
  return (event: ChainedEvent): ChainFinding | null => {
    const at = (problem: ChainProblem): ChainFinding => ({
      position: event.position,
      streamName: event.streamName,
      revision: event.revision,
      problem,
    });
    if (event.hash === null || event.streamHash === null) {
      previous = event.hash;
      return at('unhashed');
    }
    const expectedGlobal = chainHash(previous, event);
    const inStream =
      event.revision === 0n || event.previousStreamHash !== null
        ? same(event.streamHash, chainHash(event.previousStreamHash, event))
        : null;
    previous = event.hash;
    if (inStream === null) return at('missing-in-stream');
    if (!inStream) return at('altered');
    if (!same(event.hash, expectedGlobal))
      // Its own stream vouches for it, so what changed lies before it in the log.
      return at('missing-before');
    return null;
  };
};

/**
 * One stream's events, in revision order, checked against their stream chain alone: the
 * first finding, or null when every event is as it was stored and none is missing.
 */
export const verifyStreamChain = (events: readonly ChainedEvent[]): ChainFinding | null => {
  let previous: Uint8Array | null = null;
  let expectedRevision = 0n;
  for (const event of events) {
    const at = (problem: ChainProblem): ChainFinding => ({
      position: event.position,
      streamName: event.streamName,
      revision: event.revision,
      problem,
    });
    if (event.revision !== expectedRevision) return at('missing-in-stream');
    if (event.streamHash === null) return at('unhashed');
    if (!same(event.streamHash, chainHash(previous, event))) return at('altered');
    previous = event.streamHash;
    expectedRevision = event.revision + 1n;
  }
  return null;
};
