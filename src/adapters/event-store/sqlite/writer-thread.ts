/**
 * The SQLite writer thread: the one connection that appends, for every thread of the
 * process. Appends from all of them share its group commit (one fsync per batch), no
 * thread blocks on an fsync or on another thread's write lock, and commits are announced
 * on the file's BroadcastChannel.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { AppendRequest } from './group-commit.js';
import { createGroupCommit } from './group-commit.js';
import { openSqliteDatabase } from './open-database.js';
import {
  type CommittedBlobs,
  commitChannelName,
  type ReceiveBlobsRequest,
  toReplyError,
  type WriterReply,
  type WriterRequest,
} from './writer-protocol.js';

const { path, windowMs } = workerData as { path: string; windowMs: number };
const db = openSqliteDatabase(path);
const commits = new BroadcastChannel(commitChannelName(path));
const blobReceivers = new Set<MessagePort>();

/**
 * Hands the committed blobs to the ports that asked for them (the delivery thread reads a
 * body moments after it is accepted; this spares it reading the bytes back from the file).
 * Sent before the commit is announced, so they usually arrive first.
 */
const passBlobs = (committed: readonly AppendRequest[]): void => {
  if (blobReceivers.size === 0) return;
  const blobs = committed.flatMap((request) => request.options.blobs ?? []);
  if (blobs.length === 0) return;
  const message: CommittedBlobs = { blobs };
  // With one receiver the bytes move without a copy; SQLite has its own copy already.
  const transfer =
    blobReceivers.size === 1
      ? [...new Set(blobs.map((b) => b.bytes.buffer))].filter(
          (b): b is ArrayBuffer => b instanceof ArrayBuffer,
        )
      : [];
  for (const port of blobReceivers) port.postMessage(message, transfer);
};

const groupCommit = createGroupCommit(db, windowMs, (committed) => {
  passBlobs(committed);
  commits.postMessage(null);
});

const serve = (port: MessagePort): void => {
  port.on('message', (request: WriterRequest | ReceiveBlobsRequest) => {
    if ('receiveBlobs' in request) {
      blobReceivers.add(port);
      port.once('close', () => blobReceivers.delete(port));
      return;
    }
    groupCommit.append(request).then(
      (result) => port.postMessage({ id: request.id, ok: true, result } satisfies WriterReply),
      (error) => port.postMessage(toReplyError(request.id, error)),
    );
  });
};

parentPort?.on('message', (message: { port?: MessagePort; close?: true }) => {
  if (message.port) serve(message.port);
  if (message.close) {
    groupCommit.flush();
    commits.close();
    db.close();
    parentPort?.close();
  }
});
parentPort?.postMessage('ready');
