import {
  type ChainedEvent,
  type ChainFinding,
  createChainVerifier,
  verifyStreamChain,
} from '../../domain/audit/event-chain.js';
import type { EventStore } from '../../domain/event-store/event-store.js';

export interface LogVerification {
  readonly checked: number;
  /** The first findings, in position order (at most `maxFindings`). */
  readonly findings: readonly ChainFinding[];
  /** Findings in all, beyond those listed too. */
  readonly problems: number;
  /** The last event checked and its hash: note it; a later run must still find it there. */
  readonly head: { readonly position: bigint; readonly hash: string | null } | null;
}

export class ChainsNotKept extends Error {
  readonly code = 'ChainsNotKept';
}

/** Walks the log's hash chains from `since` (epoch ms) or the start, and says what broke. */
export const verifyLog = async (
  store: EventStore,
  options: {
    readonly since?: number;
    readonly maxFindings?: number;
    readonly onProgress?: (checked: number, position: bigint) => void;
  } = {},
): Promise<LogVerification> => {
  if (!store.readChain) throw new ChainsNotKept('this event store keeps no hash chains');
  const { start, events } = await store.readChain(
    options.since === undefined ? {} : { since: options.since },
  );
  const check = createChainVerifier(start);
  const findings: ChainFinding[] = [];
  let problems = 0;
  let checked = 0;
  let last: ChainedEvent | null = null;
  for await (const event of events) {
    const finding = check(event);
    if (finding) {
      problems++;
      if (findings.length < (options.maxFindings ?? 20)) findings.push(finding);
    }
    checked++;
    last = event;
    if (checked % 10_000 === 0) options.onProgress?.(checked, event.position);
  }
  return {
    checked,
    findings,
    problems,
    head: last
      ? { position: last.position, hash: last.hash ? Buffer.from(last.hash).toString('hex') : null }
      : null,
  };
};

/** One stream checked against its own chain: null when intact, else the first finding. */
export const verifyStream = async (
  store: EventStore,
  streamName: string,
): Promise<ChainFinding | null | 'not-kept'> => {
  if (!store.readChain) return 'not-kept';
  const { events } = await store.readChain({ stream: streamName });
  const all: ChainedEvent[] = [];
  for await (const event of events) all.push(event);
  return verifyStreamChain(all);
};
