import type { Lane } from '../../domain/message/events.js';
import { GCRA_START, type GcraState, gcra, type Rate } from '../../domain/shaping/rate.js';

export interface GateLimits {
  readonly maxConnections: number;
  readonly messageRate: Rate | null;
  /** Nothing starts before this time (a suspended site). */
  readonly notBefore?: number;
}

interface Gate {
  inFlight: number;
  messages: GcraState;
  connections: GcraState;
  /** Transactional waiters first, then bulk, each in arrival order. */
  readonly waiting: Array<{
    readonly limits: GateLimits;
    readonly lane: Lane;
    readonly go: () => void;
    readonly cancel: () => void;
  }>;
  readonly running: Record<Lane, number>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Per-site admission: at most `maxConnections` transactions under way at once (each holds
 * one connection), started no faster than `messageRate` (GCRA, no burst), none before a
 * suspension ends. Transactional waiters go ahead of bulk ones, each lane first come,
 * first served; a rate-limited site is woken when its next slot comes.
 */
export const createSiteGates = (now: () => number = Date.now) => {
  const gates = new Map<string, Gate>();
  const gateOf = (site: string): Gate => {
    let g = gates.get(site);
    if (!g) {
      g = {
        inFlight: 0,
        running: { transactional: 0, bulk: 0 },
        messages: GCRA_START,
        connections: GCRA_START,
        waiting: [],
        timer: undefined,
      };
      gates.set(site, g);
    }
    return g;
  };

  const pump = (g: Gate): void => {
    clearTimeout(g.timer);
    g.timer = undefined;
    while (g.waiting.length > 0) {
      const next = g.waiting[0] as Gate['waiting'][number];
      if (g.inFlight >= next.limits.maxConnections) return;
      const wait = (next.limits.notBefore ?? 0) - now();
      if (wait > 0) {
        g.timer = setTimeout(() => pump(g), wait);
        return;
      }
      if (next.limits.messageRate) {
        const decision = gcra(g.messages, next.limits.messageRate, now());
        if (!decision.allowed) {
          g.timer = setTimeout(() => pump(g), Math.max(1, decision.retryAt - now()));
          return;
        }
        g.messages = decision.state;
      }
      g.waiting.shift();
      g.inFlight++;
      g.running[next.lane]++;
      next.go();
    }
  };

  return {
    /**
     * Resolves when this site may take one more transaction; call the result when done.
     * Null: the wait was cancelled (the relay is stopping), nothing was taken.
     */
    admit: (
      site: string,
      limits: GateLimits,
      lane: Lane = 'transactional',
    ): Promise<(() => void) | null> => {
      const g = gateOf(site);
      return new Promise((resolve) => {
        const waiter = {
          limits,
          lane,
          cancel: () => resolve(null),
          go: () => {
            let released = false;
            resolve(() => {
              if (released) return;
              released = true;
              g.inFlight--;
              g.running[lane]--;
              pump(g);
            });
          },
        };
        // Transactional mail goes ahead of every bulk message still waiting for the site.
        const firstBulk =
          lane === 'transactional' ? g.waiting.findIndex((w) => w.lane === 'bulk') : -1;
        if (firstBulk === -1) g.waiting.push(waiter);
        else g.waiting.splice(firstBulk, 0, waiter);
        pump(g);
      });
    },
    /** Waits until a new connection to this site fits its connection rate. */
    connect: async (site: string, rate: Rate | null): Promise<void> => {
      if (!rate) return;
      const g = gateOf(site);
      for (;;) {
        const decision = gcra(g.connections, rate, now());
        if (decision.allowed) {
          g.connections = decision.state;
          return;
        }
        // Unref: a stop abandons the attempt waiting here, and its timer must not hold the exit.
        await new Promise((r) => setTimeout(r, Math.max(1, decision.retryAt - now())).unref());
      }
    },
    /** A lane's transactions under way and waiting at a site: the loop stops feeding a full one. */
    load: (site: string, lane: Lane): number => {
      const g = gates.get(site);
      return g ? g.running[lane] + g.waiting.filter((w) => w.lane === lane).length : 0;
    },
    /** Ends every wait (each admit resolves null): a stopping relay does not wait out a suspension. */
    cancelWaiting: (): void => {
      for (const g of gates.values()) for (const w of g.waiting.splice(0)) w.cancel();
    },
    close: (): void => {
      for (const g of gates.values()) clearTimeout(g.timer);
    },
  };
};

export type SiteGates = ReturnType<typeof createSiteGates>;
