import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  type AnomalyPolicy,
  type CredentialFigures,
  detectAnomalies,
} from '../../domain/anomaly/anomaly.js';
import { handleCommand } from '../../domain/command-handling/handle-command.js';
import { credentialDecider, credentialStream } from '../../domain/credential/credential.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { credentialFigures } from '../../projections/credential-volume/credential-volume.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';

export interface AnomalyWatchDeps {
  readonly store: EventStore;
  readonly readDb: ReadModelDb;
  readonly policy: AnomalyPolicy;
  readonly intervalMs: number;
  readonly cooldownMs: number;
  /** Pause the credential on an anomaly. */
  readonly pause: boolean;
  /** Where each anomaly is also POSTed as JSON; null: nowhere. */
  readonly webhook: string | null;
  /** Several nodes sharing the work: whether this one looks (one node does, not each). */
  readonly mine?: () => boolean;
  readonly now: () => number;
  readonly log: Pick<Logger, 'warn' | 'error'>;
}

/**
 * Every interval, each credential that sent in the last hour (or used a new domain) is set
 * against its own past; what stands out is recorded on its stream (CredentialAnomalyDetected,
 * and CredentialPaused when configured), logged, and POSTed to the operator's hook. The
 * same anomaly is reported once per cooldown (kept in memory: a restart may report a
 * standing one once more).
 */
export const startAnomalyWatch = (deps: AnomalyWatchDeps): { stop(): Promise<void> } => {
  const reported = new Map<string, number>();
  let lookedAt = deps.now() - deps.intervalMs;
  let running: Promise<void> = Promise.resolve();

  const report = async (figures: CredentialFigures, now: number) => {
    for (const anomaly of detectAnomalies(figures, deps.policy, now)) {
      const key = `${figures.credentialId}:${anomaly.kind}:${anomaly.subject}`;
      if (now - (reported.get(key) ?? Number.NEGATIVE_INFINITY) < deps.cooldownMs) continue;
      reported.set(key, now);
      const data = {
        credentialId: figures.credentialId,
        name: figures.name,
        kind: anomaly.kind,
        figures: { ...anomaly.figures },
        summary: anomaly.summary,
        detectedAt: now,
      };
      const { events } = await handleCommand(
        deps.store,
        credentialStream(figures.credentialId),
        credentialDecider,
        { type: 'RecordAnomaly', data, pause: deps.pause },
        { newEventId: () => randomUUID() },
      );
      // A revoked credential sends nothing more: nothing was recorded, nothing to say.
      if (events.length === 0) continue;
      const paused = events.some((e) => e.type === 'CredentialPaused');
      deps.log.warn(
        { credential: figures.name, kind: anomaly.kind, figures: anomaly.figures, paused },
        `credential anomaly: ${anomaly.summary}`,
      );
      if (deps.webhook)
        await fetch(deps.webhook, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'credential.anomaly', ...data, paused }),
          signal: AbortSignal.timeout(10_000),
        }).then(
          (r) => r.body?.cancel(),
          (error: unknown) =>
            deps.log.warn({ err: error, url: deps.webhook }, 'anomaly webhook failed'),
        );
    }
  };

  const look = async () => {
    const now = deps.now();
    // A margin for mail accepted before the last look but projected after it; the cooldown
    // keeps a domain seen twice from being reported twice.
    const since = lookedAt - 5 * deps.intervalMs;
    lookedAt = now;
    for (const figures of credentialFigures(deps.readDb, now, since)) await report(figures, now);
  };

  const timer = setInterval(() => {
    if (deps.mine && !deps.mine()) {
      lookedAt = deps.now();
      return;
    }
    running = running
      .then(look)
      .catch((error: unknown) => deps.log.error({ err: error }, 'anomaly watch failed'));
  }, deps.intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
};
