/**
 * Anomaly alerts end to end: credentials submit through SMTP AUTH, the smart sink answers,
 * and the watch on the delivery thread (every second here) records CredentialAnomalyDetected
 * with the figures, POSTs it to the operator's hook and pauses the credential
 * (anomalies.pause), whose submissions then get 451 4.7.1 until it is resumed. The
 * thresholds are low so a test can cross them; the arithmetic against a week's baseline is
 * the domain test's (src/domain/anomaly).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { handleCommand } from '../../src/domain/command-handling/handle-command.js';
import { credentialDecider, credentialStream } from '../../src/domain/credential/credential.js';
import { findCredentialById } from '../../src/projections/credentials/credentials.js';
import { addCredential, streamEvents } from '../support/fixtures.js';
import {
  type Sink,
  startSink,
  startTestRelay,
  type TestRelay,
  waitFor,
} from '../support/relay-harness.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const PASS = 'correct horse battery staple';

describe('credential anomalies', () => {
  let relay: TestRelay;
  let sink: Sink;
  let hook: WebhookReceiver;
  const ids = new Map<string, string>();

  const sendAs = async (user: string, from: string, to: string[]) => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: relay.smtpPort,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user, pass: PASS },
    });
    try {
      return await transport.sendMail({ from, to, subject: 'a', text: 'b' });
    } finally {
      transport.close();
    }
  };
  const anomaliesOf = async (user: string) =>
    (await streamEvents(relay.store, credentialStream(ids.get(user) ?? '')))
      .filter((e) => e.type === 'CredentialAnomalyDetected')
      .map((e) => e.data as { kind: string; figures: Record<string, unknown>; summary: string });

  before(async () => {
    sink = await startSink('127.0.0.71');
    hook = await startWebhookReceiver('127.0.0.72');
    relay = await startTestRelay({
      routes: { '*': `[127.0.0.71]:${sink.port}` },
      anomalies: {
        interval: '1s',
        minHistory: '0s',
        // The spike test sends six one after another: at 5 the check could fire between the
        // fifth and the sixth, and its cooldown would keep the figure at 5.
        minMessages: 6,
        spikeFactor: 3,
        minOutcomes: 4,
        bounceRate: 0.5,
        pause: true,
        webhook: hook.url('/alerts'),
      },
    });
    for (const user of ['bouncy@bouncy.test', 'spiky@spiky.test', 'multi@multi.test'])
      ids.set(user, await addCredential(relay, user, PASS));
  });
  after(async () => {
    await relay.cleanup();
    await sink.close();
    await hook.close();
  });

  it('a bounce rate far above the usual is recorded with its figures, POSTed to the hook, and pauses the credential', async () => {
    const user = 'bouncy@bouncy.test';
    await sendAs(user, user, [
      'permfail1@example.com',
      'permfail2@example.com',
      'permfail3@example.com',
      'permfail4@example.com',
    ]);
    const anomaly = (
      await waitFor(async () => {
        const found = await anomaliesOf(user);
        return found.length > 0 ? found : null;
      }, 'a bounce-rate anomaly')
    )?.[0];
    assert.equal(anomaly?.kind, 'bounce-rate');
    assert.deepEqual(anomaly?.figures, { bounced: 4, outcomes: 4, rate: 1, baselineRate: 0 });
    assert.match(
      anomaly?.summary ?? '',
      /100% of its recipients bounced in the last hour \(4 of 4\)/,
    );
    const alert = await waitFor(
      () => hook.requests.find((r) => JSON.parse(r.body.toString()).name === 'bouncy'),
      'the operator hook',
    );
    assert.equal(alert.path, '/alerts');
    const body = JSON.parse(alert.body.toString());
    assert.equal(body.type, 'credential.anomaly');
    assert.equal(body.kind, 'bounce-rate');
    assert.equal(body.paused, true);

    await waitFor(() => findCredentialById(relay.readDb, ids.get(user) ?? '')?.paused, 'paused');
    // The relay reads a credential's pause within a second (its lookups are cached that long).
    await new Promise((r) => setTimeout(r, 1100));
    await assert.rejects(
      sendAs(user, user, ['x@example.com']),
      /451 4\.7\.1 Credential bouncy is paused \(100% of its recipients bounced/,
    );
    await handleCommand(
      relay.store,
      credentialStream(ids.get(user) ?? ''),
      credentialDecider,
      { type: 'ResumeCredential', credentialId: ids.get(user) ?? '', at: Date.now() },
      { newEventId: () => randomUUID() },
    );
    const sent = await waitFor(
      () => sendAs(user, user, ['ok@example.com']).catch(() => null),
      'accepted after resume',
    );
    assert.match(sent?.response ?? '', /^250 2\.0\.0 /);
  });

  it('a volume spike is recorded once, however long it stands', async () => {
    const user = 'spiky@spiky.test';
    for (let i = 0; i < 6; i++) await sendAs(user, user, [`r${i}@example.com`]);
    const anomaly = (
      await waitFor(async () => {
        const found = await anomaliesOf(user);
        return found.length > 0 ? found : null;
      }, 'a volume-spike anomaly')
    )?.[0];
    assert.equal(anomaly?.kind, 'volume-spike');
    assert.equal(anomaly?.figures.lastHour, 6);
    // Looked at several more times since: the cooldown holds the repeat back.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await anomaliesOf(user)).length, 1);
  });

  it('a sending domain it never used is an anomaly; its first domain is not', async () => {
    const user = 'multi@multi.test';
    await sendAs(user, user, ['a@example.com']);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(await anomaliesOf(user), []);
    await sendAs(user, 'news@news.multi.test', ['b@example.com']);
    const anomaly = (
      await waitFor(async () => {
        const found = await anomaliesOf(user);
        return found.length > 0 ? found : null;
      }, 'a new-domain anomaly')
    )?.[0];
    assert.equal(anomaly?.kind, 'new-domain');
    assert.equal(anomaly?.figures.domain, 'news.multi.test');
  });
});
