import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { Remote } from '../../domain/message/events.js';
import { createConnectionPool, type Pooled } from './connection-pool.js';
import type { OpenConnection, TlsPolicy } from './open-connection.js';

// The pool only opens, reuses and closes: a stand-in that closes its socket on QUIT is
// enough, and it counts what was opened.
const opener = () => {
  let opened = 0;
  const open = (tlsPolicy: TlsPolicy) => async (): Promise<OpenConnection> => {
    opened++;
    const socket = new EventEmitter();
    const connection = Object.assign(new EventEmitter(), {
      quit: () => setImmediate(() => socket.emit('close')),
      close: () => socket.emit('close'),
    });
    const remote: Remote = { mx: 'mx', ip: '127.0.0.1', sourceIp: null, tls: false, esmtp: [] };
    return { connection, socket, remote, tlsPolicy } as unknown as OpenConnection;
  };
  return { open, opened: () => opened };
};
const policy = (p: TlsPolicy) => (c: Pooled) => c.tlsPolicy === p;
const ONE = { maxOpen: 1, maxMessagesPerConnection: 100 };

describe('connection pool', () => {
  // The pool's own timers do not hold the process open (a relay with nothing to do exits).
  let alive: NodeJS.Timeout;
  before(() => {
    alive = setInterval(() => {}, 1000);
  });
  after(() => clearInterval(alive));

  it('a released connection goes to the waiter it suits, not the first in line', {
    timeout: 10_000,
  }, async () => {
    const pool = createConnectionPool({ idleTimeoutMs: 60_000 });
    const { open, opened } = opener();
    const first = await pool.acquire('site', ONE, open('off'), policy('off'));
    const other = pool.acquire('site', ONE, open('opportunistic'), policy('opportunistic'));
    const same = pool.acquire('site', ONE, open('off'), policy('off'));
    pool.release(first, true);
    assert.equal(await same, first, 'reused by the waiter of its own policy');
    assert.equal(opened(), 1);
    pool.release(first, true);
    // Now only the other waiter is left: it closes the idle one and opens its own.
    const second = await other;
    assert.notEqual(second, first);
    assert.equal(second.tlsPolicy, 'opportunistic');
    assert.equal(opened(), 2);
    pool.release(second, true);
    pool.closeAll();
  });

  it('with the limit reached and only unsuitable idle connections, one is closed to make room', {
    timeout: 10_000,
  }, async () => {
    const pool = createConnectionPool({ idleTimeoutMs: 60_000 });
    const { open, opened } = opener();
    const idle = await pool.acquire('site', ONE, open('off'), policy('off'));
    pool.release(idle, true);
    const mine = await pool.acquire('site', ONE, open('required'), policy('required'));
    assert.equal(idle.state, 'closed');
    assert.equal(mine.tlsPolicy, 'required');
    assert.equal(opened(), 2);
    pool.release(mine, true);
    pool.closeAll();
  });
});
