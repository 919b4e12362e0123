/**
 * API keys on a running relay: the main thread remembers which credential a key belongs to,
 * and forgets once the credentials projection has applied a change. A key revoked, a
 * credential revoked or its networks narrowed must be refused by every front door from
 * then on, even right after the key was used (and so remembered).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hashApiKey } from '../../src/adapters/api-keys/api-key.js';
import { createApiKey, type NewApiKey } from '../../src/apps/credentials/create-api-key.js';
import { createCredential } from '../../src/apps/credentials/create-credential.js';
import { handleCommand } from '../../src/domain/command-handling/handle-command.js';
import {
  type CredentialCommand,
  credentialDecider,
  credentialStream,
} from '../../src/domain/credential/credential.js';
import { findCredentialByApiKeyHash } from '../../src/projections/credentials/credentials.js';
import { type ApiRelay, startApiRelay } from '../support/api-relay.js';
import { waitFor } from '../support/relay-harness.js';

type Api = 'mailgun' | 'sendgrid' | 'postmark';
const APIS: readonly Api[] = ['mailgun', 'sendgrid', 'postmark'];

describe('API keys on a running relay', () => {
  let api: ApiRelay;
  before(async () => {
    api = await startApiRelay('127.0.0.66');
  });
  after(async () => api.close());

  /** A fresh credential of the relay's domain with `count` keys, all usable. */
  const credentialWithKeys = async (name: string, count: number) => {
    const { id } = await createCredential(api.relay.store, { name, domain: api.domain });
    const keys: NewApiKey[] = [];
    for (let i = 0; i < count; i++) keys.push(await createApiKey(api.relay.store, id));
    for (const { apiKey } of keys)
      await waitFor(() => findCredentialByApiKeyHash(api.relay.readDb, hashApiKey(apiKey)), 'key');
    return { id, keys: keys.map((k) => k.apiKey), keyIds: keys.map((k) => k.keyId) };
  };

  const command = (id: string, c: CredentialCommand) =>
    handleCommand(api.relay.store, credentialStream(id), credentialDecider, c, {
      newEventId: () => randomUUID(),
    });

  /**
   * One message to the API with this key, in test mode where the API has one: its status,
   * 200 when taken (SendGrid answers sandbox mode 200, not 202).
   */
  const send = async (which: Api, key: string): Promise<number> => {
    const from = `app@${api.domain}`;
    const to = 'keys@example.com';
    const url = (path: string) => `${api.baseUrl}${path}`;
    if (which === 'mailgun') {
      const form = new FormData();
      const fields: ReadonlyArray<readonly [string, string]> = [
        ['from', from],
        ['to', to],
        ['subject', 'hi'],
        ['text', 'hello'],
        ['o:testmode', 'yes'],
      ];
      for (const [name, value] of fields) form.append(name, value);
      const auth = `Basic ${Buffer.from(`api:${key}`).toString('base64')}`;
      const r = await fetch(url(`/v3/${api.domain}/messages`), {
        method: 'POST',
        headers: { authorization: auth },
        body: form,
      });
      if (r.status === 401) assert.equal(await r.text(), 'Forbidden');
      else await r.arrayBuffer();
      return r.status;
    }
    if (which === 'sendgrid') {
      const r = await fetch(url('/v3/mail/send'), {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          personalizations: [{ to: [{ email: to }] }],
          from: { email: from },
          subject: 'hi',
          content: [{ type: 'text/plain', value: 'hello' }],
          mail_settings: { sandbox_mode: { enable: true } },
        }),
      });
      await r.arrayBuffer();
      return r.status;
    }
    const r = await fetch(url('/email'), {
      method: 'POST',
      headers: {
        'x-postmark-server-token': key,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify({ From: from, To: to, Subject: 'hi', TextBody: 'hello' }),
    });
    const body = (await r.json()) as { ErrorCode?: number };
    if (r.status === 401) assert.equal(body.ErrorCode, 10);
    return r.status;
  };

  /** Every API answers this key with its own authentication error, soon. */
  const refusedEverywhere = async (key: string) => {
    for (const which of APIS)
      await waitFor(async () => (await send(which, key)) === 401, `${which} refusing the key`);
  };

  it('a key revoked right after it was used is refused by every API; the other key goes on', async () => {
    const { id, keys, keyIds } = await credentialWithKeys('revoked-key', 2);
    const [used, other] = keys as [string, string];
    for (const which of APIS) assert.equal(await send(which, used), 200, which);
    await command(id, { type: 'RevokeApiKey', credentialId: id, keyId: keyIds[0] ?? '', at: 1 });
    await refusedEverywhere(used);
    for (const which of APIS) assert.equal(await send(which, other), 200, which);
  });

  it('revoking a credential refuses all its keys, however recently they were used', async () => {
    const { id, keys } = await credentialWithKeys('revoked-credential', 2);
    for (const key of keys) assert.equal(await send('sendgrid', key), 200);
    await command(id, { type: 'RevokeCredential', credentialId: id, at: 1 });
    for (const key of keys) await refusedEverywhere(key);
  });

  it("narrowing a credential's networks refuses its key from outside them", async () => {
    const { id, keys } = await credentialWithKeys('narrowed', 1);
    const [key] = keys as [string];
    assert.equal(await send('postmark', key), 200);
    await command(id, {
      type: 'SetAllowedNetworks',
      credentialId: id,
      allowedNetworks: ['10.0.0.0/8'],
      at: 1,
    });
    await refusedEverywhere(key);
    await command(id, {
      type: 'SetAllowedNetworks',
      credentialId: id,
      allowedNetworks: ['127.0.0.0/8'],
      at: 2,
    });
    await waitFor(async () => (await send('postmark', key)) === 200, 'the key working again');
  });
});
