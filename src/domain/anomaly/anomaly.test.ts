import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CredentialFigures, detectAnomalies } from './anomaly.js';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 28, 12);
const policy = {
  spikeFactor: 10,
  minMessages: 500,
  minHistoryMs: 24 * HOUR,
  bounceRate: 0.1,
  bounceFactor: 3,
  minOutcomes: 100,
  newDomains: true,
};
const quiet = { messages: 0, delivered: 0, bounced: 0 };
/** A credential eight days old that sent `perHour` messages an hour all week. */
const given = (perHour: number, over: Partial<CredentialFigures> = {}): CredentialFigures => ({
  credentialId: 'c1',
  name: 'app',
  firstSeen: NOW - 8 * 24 * HOUR,
  lastHour: { messages: perHour, delivered: perHour, bounced: 0 },
  baseline: { messages: perHour * 168, delivered: perHour * 168, bounced: 0 },
  newDomains: [],
  ...over,
});
const kinds = (f: CredentialFigures) => detectAnomalies(f, policy, NOW).map((a) => a.kind);

describe('anomalies', () => {
  it('a credential sending as usual has none', () => {
    assert.deepEqual(kinds(given(100)), []);
  });

  it('ten times its usual hour, and over the floor, is a volume spike with the figures', () => {
    const [spike] = detectAnomalies(
      given(100, { lastHour: { messages: 1000, delivered: 0, bounced: 0 } }),
      policy,
      NOW,
    );
    assert.equal(spike?.kind, 'volume-spike');
    assert.deepEqual(spike?.figures, { lastHour: 1000, baselinePerHour: 100, factor: 10 });
    assert.match(spike?.summary ?? '', /1000 messages in the last hour, 10× its usual 100 an hour/);
  });

  it('below the floor, or below the factor, is no spike', () => {
    assert.deepEqual(kinds(given(10, { lastHour: { ...quiet, messages: 400 } })), []);
    assert.deepEqual(kinds(given(100, { lastHour: { ...quiet, messages: 900 } })), []);
  });

  it('a credential younger than the minimum history is not judged by volume', () => {
    const young = given(0, { firstSeen: NOW - 2 * HOUR, lastHour: { ...quiet, messages: 5000 } });
    assert.deepEqual(kinds(young), []);
  });

  it('a high bounce rate far above its usual one is an anomaly; a usual one is not', () => {
    const bad = given(100, { lastHour: { messages: 200, delivered: 150, bounced: 50 } });
    const [anomaly] = detectAnomalies(bad, policy, NOW);
    assert.equal(anomaly?.kind, 'bounce-rate');
    assert.deepEqual(anomaly?.figures, { bounced: 50, outcomes: 200, rate: 0.25, baselineRate: 0 });
    const alwaysBad = given(100, {
      lastHour: { messages: 200, delivered: 150, bounced: 50 },
      baseline: { messages: 16800, delivered: 13000, bounced: 3800 },
    });
    assert.deepEqual(kinds(alwaysBad), []);
    const tooFew = given(100, { lastHour: { messages: 20, delivered: 10, bounced: 10 } });
    assert.deepEqual(kinds(tooFew), []);
  });

  it('a domain first used after its history began is new; its first domains are not', () => {
    const f = given(100, {
      newDomains: [
        { domain: 'first.example', firstSeen: NOW - 8 * 24 * HOUR },
        { domain: 'new.example', firstSeen: NOW - 60_000 },
      ],
    });
    const found = detectAnomalies(f, policy, NOW);
    assert.deepEqual(
      found.map((a) => [a.kind, a.subject]),
      [['new-domain', 'new.example']],
    );
  });
});
