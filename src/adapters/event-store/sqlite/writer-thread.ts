/**
 * The SQLite writer thread: the one connection that appends, for every thread of the
 * process. Appends from all of them share its group commit (one fsync per batch), no
 * thread blocks on an fsync or on another thread's write lock, and commits are announced
 * on the file's BroadcastChannel.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { createGroupCommit } from './group-commit.js';
import { openSqliteDatabase } from './open-database.js';
import {
  commitChannelName,
  toReplyError,
  type WriterReply,
  type WriterRequest,
} from './writer-protocol.js';

const { path, windowMs } = workerData as { path: string; windowMs: number };
const db = openSqliteDatabase(path);
const commits = new BroadcastChannel(commitChannelName(path));
const groupCommit = createGroupCommit(db, windowMs, () => commits.postMessage(null));

const serve = (port: MessagePort): void => {
  port.on('message', (request: WriterRequest) => {
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
