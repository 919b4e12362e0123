/**
 * AUTH brute force across connections (reference §3.4): failures are counted per client
 * address and per username; a banned address is refused at connect, a banned username at
 * AUTH, both for a while only, and a credential's own allowed networks are never locked
 * out by someone else's guessing. No password ever reaches the logs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { handleCommand } from '../../src/domain/command-handling/handle-command.js';
import { credentialDecider, credentialStream } from '../../src/domain/credential/credential.js';
import { findCredentialById } from '../../src/projections/credentials/credentials.js';
import { addCredential } from '../support/fixtures.js';
import { startTestRelay, type TestRelay, waitFor } from '../support/relay-harness.js';
import { authenticatedSmtp } from '../support/smtp-client.js';

const PASS = 'correct horse battery staple';
const WRONG = 'wrong-password-guess';
const ALICE = 'alice@sender.test';
const BOB = 'bob@sender.test';
const CAROL = 'carol@sender.test';
const BAN =
  /^421 4\.7\.0 Too many failed logins from (\S+); try again after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/;

describe('AUTH brute force across connections', () => {
  let relay: TestRelay;
  const logLines: string[] = [];
  /** One AUTH PLAIN on a fresh connection from `from`; the reply (or the greeting's refusal). */
  const attempt = async (from: string, user: string, password: string): Promise<string> => {
    const { client, auth } = await authenticatedSmtp(relay.smtpPort, user, password, from);
    client.socket().destroy();
    return auth;
  };
  const bans = async (kind: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${relay.httpPort}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`mailtrail_smtp_auth_bans_total{kind="${kind}"}`));
    return line ? Number(line.split(' ')[1]) : 0;
  };

  before(async () => {
    relay = await startTestRelay(
      {
        smtp: {
          trustedNetworks: ['127.0.0.9/32'],
          authBans: {
            address: { failures: 4, within: '1m', ban: '3s' },
            username: { failures: 5, within: '1m', ban: '3s' },
          },
        },
        dns: { servers: ['127.0.0.1:9'], timeout: '100ms' },
      },
      logLines,
    );
    for (const user of [ALICE, BOB]) await addCredential(relay, user, PASS);
    const carol = await addCredential(relay, CAROL, PASS);
    await handleCommand(
      relay.store,
      credentialStream(carol),
      credentialDecider,
      {
        type: 'SetAllowedNetworks',
        credentialId: carol,
        allowedNetworks: ['127.0.0.50/32'],
        at: 1,
      },
      { newEventId: () => crypto.randomUUID() },
    );
    await waitFor(() => findCredentialById(relay.readDb, carol)?.allowedNetworks.length, 'allowed');
  });
  after(() => relay.cleanup());

  it('BF-2: an address past the threshold is refused at connect with 421 4.7.0; its neighbour is not', async () => {
    for (let i = 0; i < 4; i++)
      assert.match(await attempt('127.0.0.30', ALICE, WRONG), /^535 5\.7\.8 /);
    const refused = await attempt('127.0.0.30', ALICE, PASS);
    assert.match(refused, BAN);
    assert.equal(BAN.exec(refused)?.[1], '127.0.0.30');
    assert.match(await attempt('127.0.0.31', ALICE, PASS), /^235 /);
    assert.equal(await bans('address'), 1);
  });

  it('the ban lapses by itself: afterwards the right password works from that address', async () => {
    await sleep(3200);
    assert.match(await attempt('127.0.0.30', ALICE, PASS), /^235 /);
  });

  it('BF-3: guessing one username from many addresses throttles that username with 454 4.7.0, for a while only', async () => {
    for (let i = 0; i < 5; i++)
      assert.match(await attempt(`127.0.0.${40 + i}`, BOB, WRONG), /^535 5\.7\.8 /);
    assert.match(
      await attempt('127.0.0.46', BOB, PASS),
      /^454 4\.7\.0 Too many failed logins for this user; try again after /,
    );
    // Other users are not touched.
    assert.match(await attempt('127.0.0.46', ALICE, PASS), /^235 /);
    assert.equal(await bans('username'), 1);
    await sleep(3200);
    assert.match(await attempt('127.0.0.46', BOB, PASS), /^235 /);
  });

  it("a credential's own allowed network is not locked out by someone else's guessing", async () => {
    for (let i = 0; i < 5; i++)
      assert.match(await attempt(`127.0.0.${60 + i}`, CAROL, WRONG), /^535 5\.7\.8 /);
    assert.match(await attempt('127.0.0.66', CAROL, PASS), /^454 4\.7\.0 /);
    assert.match(await attempt('127.0.0.50', CAROL, PASS), /^235 /);
  });

  it('BF-5: a right password clears its address: failures before it do not add to those after', async () => {
    // Mistyped usernames, each its own: only the address counter is in play.
    for (let i = 0; i < 3; i++) await attempt('127.0.0.70', `typo${i}@sender.test`, WRONG);
    assert.match(await attempt('127.0.0.70', ALICE, PASS), /^235 /);
    for (let i = 3; i < 6; i++) await attempt('127.0.0.70', `typo${i}@sender.test`, WRONG);
    assert.match(await attempt('127.0.0.70', ALICE, PASS), /^235 /);
  });

  it('trusted networks are never banned', async () => {
    for (let i = 0; i < 6; i++) await attempt('127.0.0.9', BOB, WRONG);
    assert.match(await attempt('127.0.0.9', BOB, PASS), /^235 /);
    // Nor do failures from there count against the username elsewhere.
    assert.match(await attempt('127.0.0.80', BOB, PASS), /^235 /);
  });

  it('AUTH-8: no password, and no AUTH blob, in any log line', () => {
    const all = logLines.join('\n');
    assert.ok(logLines.length > 0);
    for (const secret of [PASS, WRONG]) {
      assert.ok(!all.includes(secret), secret);
      for (const user of [ALICE, BOB, CAROL])
        assert.ok(!all.includes(Buffer.from(`\0${user}\0${secret}`).toString('base64')));
    }
  });
});
