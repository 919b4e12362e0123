import {
  type AppendResult,
  EventStoreError,
  type EventStoreErrorCode,
} from '../../../domain/event-store/event-store.js';
import type { AppendRequest } from './group-commit.js';

/** What a store sends the writer thread over its MessagePort (structured clone: bigints ok). */
export interface WriterRequest extends AppendRequest {
  readonly id: number;
}

/** Asks the writer to pass this port every blob it commits from now on (see RecentBlobs). */
export interface ReceiveBlobsRequest {
  readonly receiveBlobs: true;
}

/** Blobs just committed, sent after their commit and before it is announced. */
export interface CommittedBlobs {
  readonly blobs: ReadonlyArray<{ readonly key: string; readonly bytes: Uint8Array }>;
}

export type WriterReply =
  | { readonly id: number; readonly ok: true; readonly result: AppendResult }
  | {
      readonly id: number;
      readonly ok: false;
      readonly code: EventStoreErrorCode;
      readonly message: string;
    };

export const toReplyError = (id: number, error: unknown): WriterReply =>
  error instanceof EventStoreError
    ? { id, ok: false, code: error.code, message: error.message }
    : { id, ok: false, code: 'StoreUnavailable', message: String(error) };

export const fromReplyError = (reply: Extract<WriterReply, { ok: false }>): EventStoreError =>
  new EventStoreError(reply.code, reply.message);

/** The channel on which commits to one database file are announced to every thread. */
export const commitChannelName = (absolutePath: string): string =>
  `mailtrail-events:${absolutePath}`;
