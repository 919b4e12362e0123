/**
 * VERP return paths: mail from a domain we send for leaves with one return path per
 * recipient, `b+<message>.<recipient>.<mac>@bounces.<domain>`, which reads back (with the
 * relay's key) to the message and recipient; other senders get the relay's own bounce
 * domain (`bounces.<hostname>`); `<>` stays `<>`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseVerpLocalPart } from '../src/domain/verp/verp.js';
import { onboardDomain, relayKeys } from './support/fixtures.js';
import {
  type Sink,
  startSink,
  startTestRelay,
  submit,
  type TestRelay,
  waitFor,
} from './support/relay-harness.js';

describe('VERP return paths', () => {
  let relay: TestRelay;
  let sink: Sink; // 127.0.0.32

  before(async () => {
    sink = await startSink('127.0.0.32');
    relay = await startTestRelay({
      smtp: { trustedNetworks: ['127.0.0.1/32'] },
      routes: { '*': `[127.0.0.32]:${sink.port}` },
    });
    await onboardDomain(relay, 'sender.test');
  });
  after(async () => {
    await relay.cleanup();
    await sink.close();
  });

  const key = () => relayKeys(relay).verp;

  it('each recipient of mail from an onboarded domain gets its own return path, naming it', async () => {
    const to = ['ann@example.com', 'bob@example.com', 'cy@example.net'];
    const id = await submit(relay.smtpPort, to, { envelope: { from: 'app@sender.test', to } });
    await waitFor(
      () => sink.transactions.filter((t) => t.from.includes(id.toLowerCase())).length === 3,
      'three transactions',
    );
    const sent = sink.transactions.filter((t) => t.from.includes(id.toLowerCase()));
    for (const t of sent) {
      assert.equal(t.to.length, 1, 'one transaction per recipient');
      const [local, domain] = t.from.split('@') as [string, string];
      assert.equal(domain, 'bounces.sender.test');
      const parsed = parseVerpLocalPart(key(), local);
      assert.ok(parsed.ok, t.from);
      assert.equal(parsed.target.messageId, id);
      assert.equal(to[parsed.target.recipientIndex], t.to[0]);
    }
  });

  it('a sender we do not send for gets the relay bounce domain; <> stays <>', async () => {
    await submit(relay.smtpPort, ['dee@example.com', 'eve@example.com'], {
      from: 'app@elsewhere.test',
    });
    await submit(relay.smtpPort, ['fay@example.com'], {
      envelope: { from: '', to: ['fay@example.com'] },
      from: 'mailer-daemon@sender.test',
    });
    const other = await waitFor(() => {
      const found = sink.transactions.filter(
        (t) => t.to.includes('dee@example.com') || t.to.includes('eve@example.com'),
      );
      return found.length === 2 && found;
    }, 'the other sender');
    for (const t of other) {
      const [local, domain] = t.from.split('@') as [string, string];
      assert.equal(domain, 'bounces.relay.test', 'bounces.<hostname>');
      assert.ok(parseVerpLocalPart(key(), local).ok, t.from);
    }
    const bounce = await waitFor(
      () => sink.transactions.find((t) => t.to.includes('fay@example.com')),
      'the null sender',
    );
    assert.equal(bounce.from, '');
  });
});
