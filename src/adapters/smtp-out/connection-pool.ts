import type { OpenConnection } from './open-connection.js';

export interface PoolLimits {
  readonly idleTimeoutMs: number;
}

/** Per destination: how many connections at once, and how many messages on each. */
export interface KeyLimits {
  readonly maxOpen: number;
  readonly maxMessagesPerConnection: number;
}

export interface Pooled extends OpenConnection {
  readonly key: string;
  readonly maxMessages: number;
  sent: number;
  /** closing: QUIT sent, the socket not yet closed; it still counts against the limit. */
  state: 'busy' | 'idle' | 'closing' | 'closed';
  idleTimer?: NodeJS.Timeout;
}

interface Slot {
  readonly idle: Pooled[];
  open: number;
  readonly waiters: Array<{ readonly fits: (p: Pooled) => boolean; readonly wake: () => void }>;
}

/**
 * Outbound connections per destination (a site), reused across messages: at most `maxOpen`
 * open at once, each for at most `maxMessagesPerConnection` messages, closed when idle. The
 * limits come with each acquire, so a change of shaping rules applies to new connections.
 */
export const createConnectionPool = (limits: PoolLimits) => {
  const slots = new Map<string, Slot>();
  // Every connection until its socket closes, busy ones included: what destroyAll ends.
  const live = new Set<Pooled>();
  const slot = (key: string): Slot => {
    let s = slots.get(key);
    if (!s) {
      s = { idle: [], open: 0, waiters: [] };
      slots.set(key, s);
    }
    return s;
  };
  // A connection back in the pool goes to the first waiter it suits: woken, one it does not
  // suit would close it to make room, and the one it suits would wait for a new one.
  const wakeOne = (s: Slot, released?: Pooled): void => {
    const suited = released ? s.waiters.findIndex((w) => w.fits(released)) : -1;
    s.waiters.splice(Math.max(suited, 0), 1)[0]?.wake();
  };

  // The receiver learns of a close a moment after we do (its event loop may take the next
  // connection first): the slot stays taken that much longer, so a site allowed N
  // connections never counts N+1.
  const LINGER_MS = 100;
  const retire = (p: Pooled): void => {
    if (p.state === 'closed') return;
    const s = slot(p.key);
    if (p.state === 'idle') s.idle.splice(s.idle.indexOf(p), 1);
    clearTimeout(p.idleTimer);
    p.state = 'closed';
    live.delete(p);
    setTimeout(() => {
      s.open--;
      wakeOne(s);
    }, LINGER_MS).unref();
  };

  /**
   * An idle connection that `fits`, else a new one, else one when the limit allows. With
   * the limit reached and only idle connections that do not fit, the oldest of them is
   * closed to make room: otherwise the wait would last until its idle timeout.
   */
  const acquire = async (
    key: string,
    keyLimits: KeyLimits,
    open: () => Promise<OpenConnection>,
    fits: (connection: Pooled) => boolean = () => true,
  ): Promise<Pooled> => {
    const s = slot(key);
    for (;;) {
      const at = s.idle.findLastIndex(fits);
      if (at >= 0) {
        const [idle] = s.idle.splice(at, 1) as [Pooled];
        clearTimeout(idle.idleTimer);
        idle.state = 'busy';
        return idle;
      }
      if (s.open < keyLimits.maxOpen) {
        s.open++;
        try {
          const opened = await open();
          const pooled: Pooled = {
            ...opened,
            key,
            maxMessages: keyLimits.maxMessagesPerConnection,
            sent: 0,
            state: 'busy',
          };
          const onGone = () => retire(pooled);
          // The slot is free once the socket has closed, not when the session ends: the
          // receiver still counts a connection whose close is on its way.
          opened.socket.once('close', onGone);
          opened.connection.on('error', onGone);
          live.add(pooled);
          return pooled;
        } catch (error) {
          s.open--;
          wakeOne(s);
          throw error;
        }
      }
      const unfit = s.idle[0];
      if (unfit) close(unfit);
      await new Promise<void>((resolve) => s.waiters.push({ fits, wake: resolve }));
    }
  };

  // A receiver counts a connection until its socket closes, so the slot is freed then (on
  // the socket's 'close', see acquire), not when QUIT is sent.
  const CLOSE_TIMEOUT_MS = 10_000;
  const close = (p: Pooled): void => {
    if (p.state === 'closed' || p.state === 'closing') return;
    const s = slot(p.key);
    if (p.state === 'idle') s.idle.splice(s.idle.indexOf(p), 1);
    clearTimeout(p.idleTimer);
    p.state = 'closing';
    setTimeout(() => retire(p), CLOSE_TIMEOUT_MS).unref();
    p.connection.quit();
  };

  const release = (p: Pooled, reusable: boolean): void => {
    if (p.state === 'closed') return;
    if (!reusable || p.sent >= p.maxMessages) {
      close(p);
      return;
    }
    const s = slot(p.key);
    p.state = 'idle';
    p.idleTimer = setTimeout(() => close(p), limits.idleTimeoutMs);
    p.idleTimer.unref();
    s.idle.push(p);
    wakeOne(s, p);
  };

  const closeAll = (): void => {
    for (const s of slots.values()) for (const p of [...s.idle]) close(p);
  };

  /** Drops every connection without QUIT, busy ones in mid-transaction too. */
  const destroyAll = (): void => {
    for (const p of [...live]) {
      p.connection.close();
      retire(p);
    }
  };

  return { acquire, release, close, closeAll, destroyAll };
};

export type ConnectionPool = ReturnType<typeof createConnectionPool>;
