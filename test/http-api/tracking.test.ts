/**
 * Open and click tracking through the HTTP APIs: each recipient of a tracked message gets
 * its own pixel and links (HMAC-signed), the pixel and the redirect record Opened and
 * Clicked with user agent and IP, machines are flagged and kept, a tampered link redirects
 * nowhere, and links in the text part are tracked when each provider's option asks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@sendgrid/client';
import { MailService } from '@sendgrid/mail';
import FormData from 'form-data';
import Mailgun from 'mailgun.js';
import * as postmark from 'postmark';
import type { MessageAccepted } from '../../src/domain/message/events.js';
import { summarizeMessage } from '../../src/domain/webhook/notification.js';
import { type ApiRelay, startApiRelay } from '../support/api-relay.js';
import { acceptedMessages, streamEvents } from '../support/fixtures.js';
import { BIN, REPO } from '../support/relay-process.js';

type Accepted = MessageAccepted['data'];
interface Engagement {
  recipient: string;
  userAgent: string | null;
  ip: string | null;
  machine: string | null;
  first: boolean;
  url?: string;
  location?: string;
}
const PUBLIC_BASE = 'https://track.shop.test/t';
const BROWSER =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15';

describe('open and click tracking', () => {
  let api: ApiRelay;
  let pm: postmark.ServerClient;
  let mg: ReturnType<Mailgun['client']>;
  let sg: MailService;

  before(async () => {
    api = await startApiRelay('127.0.0.64', {
      tracking: { baseUrl: PUBLIC_BASE },
      // The reverse proxy in front: requests from 127.0.0.2 only.
      http: { trustedProxies: ['127.0.0.2/32'] },
    });
    pm = new postmark.ServerClient(api.apiKey, {
      useHttps: false,
      requestHost: `127.0.0.1:${new URL(api.baseUrl).port}`,
    });
    mg = new Mailgun(FormData as never).client({
      username: 'api',
      key: api.apiKey,
      url: api.baseUrl,
    });
    const client = new Client();
    client.setApiKey(api.apiKey);
    client.setDefaultRequest('baseUrl', `${api.baseUrl}/`);
    sg = new MailService();
    sg.setClient(client);
  });
  after(async () => api.close());

  /** The tracking URLs a received message carries, pointed at the test server. */
  const trackingUrls = async (recipient: string) => {
    const html = (await api.received(recipient)).html || '';
    const local = (u: string) => u.replace(PUBLIC_BASE, `${api.baseUrl}/t`);
    const pixel = /<img src="([^"]+\/o\/[^"]+)"/.exec(html)?.[1];
    const link = /href="([^"]+\/c\/[^"]+)"/.exec(html)?.[1];
    return { pixel: pixel && local(pixel), link: link && local(link.replace(/&amp;/g, '&')) };
  };
  /** The URLs of a received message's text part that go through the click redirect. */
  const textLinks = async (recipient: string): Promise<string[]> =>
    [
      ...((await api.received(recipient)).text ?? '').matchAll(
        /https:\/\/track\.shop\.test\/t\/c\/[0-9a-z]{26}\.[0-9a-z]+\.t\.[\w-]+\.[\w-]{22}/g,
      ),
    ].map((m) => m[0].replace(PUBLIC_BASE, `${api.baseUrl}/t`));
  const engagement = async (messageId: string) =>
    (await streamEvents(api.relay.store, `message-${messageId}`))
      .filter((e) => e.type === 'Opened' || e.type === 'Clicked')
      .map((e) => ({ type: e.type, ...(e.data as Engagement) }));

  /** The messages stored under this id. */
  const storedAs = async (messageId: string): Promise<Accepted[]> =>
    (await acceptedMessages(api.relay.store))
      .map((e) => e.data as Accepted)
      .filter((d) => d.messageId === messageId);

  let messages: Accepted[];

  it('a tracked message gives each recipient its own pixel and links, under one Message-ID', async () => {
    const response = await pm.sendEmail({
      From: 'team@shop.test',
      To: 'ann@example.com, bob@example.com',
      Subject: 'Your order',
      HtmlBody:
        '<html><body><p><a href="https://shop.test/order?id=1&amp;x=2">Order</a> <a href="mailto:help@shop.test">help</a></p></body></html>',
      TextBody: 'Your order: https://shop.test/order?id=1',
      TrackOpens: true,
      TrackLinks: 'HtmlOnly' as postmark.Models.LinkTrackingOptions,
    });
    assert.equal(response.ErrorCode, 0);
    messages = (await acceptedMessages(api.relay.store))
      .map((e) => e.data as Accepted)
      .filter((d) => d.headers.subject === 'Your order');
    assert.equal(messages.length, 2, 'one message per recipient');
    assert.equal(new Set(messages.map((m) => m.headers.messageId)).size, 1);
    assert.ok(messages.some((m) => m.messageId === response.MessageID));
    // Its webhooks name every copy by the MessageID the client was answered with.
    for (const m of messages)
      assert.equal(summarizeMessage(m).apiMessageId, response.MessageID, m.envelope.to[0]?.address);
    for (const m of messages) assert.deepEqual(m.tracking, { opens: true, clicks: true });
    const ann = await trackingUrls('ann@example.com');
    const bob = await trackingUrls('bob@example.com');
    assert.ok(ann.pixel && ann.link && bob.pixel && bob.link);
    assert.notEqual(ann.pixel, bob.pixel);
    assert.notEqual(ann.link, bob.link);
    const html = (await api.received('ann@example.com')).html || '';
    assert.match(html, /href="mailto:help@shop\.test"/, 'mailto: links are left alone');
    for (const r of await api.dkim(await api.receivedBytes('ann@example.com')))
      assert.equal(r.result, 'pass');
  });

  it('the pixel records Opened with user agent and IP; Apple Mail Privacy Protection is flagged', async () => {
    const { pixel } = await trackingUrls('ann@example.com');
    const person = await fetch(pixel as string, { headers: { 'user-agent': BROWSER } });
    assert.equal(person.status, 200);
    assert.equal(person.headers.get('content-type'), 'image/gif');
    assert.match(person.headers.get('cache-control') ?? '', /no-store/);
    await fetch(pixel as string, { headers: { 'user-agent': 'Mozilla/5.0' } });
    const ann = messages.find((m) => m.envelope.to[0]?.address === 'ann@example.com');
    const opens = await engagement(ann?.messageId as string);
    assert.deepEqual(
      opens.map((o) => [o.type, o.recipient, o.userAgent, o.machine, o.first]),
      [
        ['Opened', 'ann@example.com', BROWSER, null, true],
        ['Opened', 'ann@example.com', 'Mozilla/5.0', 'apple', false],
      ],
    );
    assert.match(String(opens[0]?.ip), /127\.0\.0\.1/);
  });

  it('a click redirects to the original URL and records Clicked; a scanner is flagged', async () => {
    const { link } = await trackingUrls('bob@example.com');
    const click = await fetch(link as string, {
      redirect: 'manual',
      headers: { 'user-agent': BROWSER },
    });
    assert.equal(click.status, 302);
    assert.equal(click.headers.get('location'), 'https://shop.test/order?id=1&x=2');
    const scan = await fetch(link as string, {
      method: 'HEAD',
      redirect: 'manual',
      headers: { 'user-agent': 'Barracuda Sentinel (EE)' },
    });
    assert.equal(scan.status, 302);
    const bob = messages.find((m) => m.envelope.to[0]?.address === 'bob@example.com');
    const clicks = await engagement(bob?.messageId as string);
    assert.deepEqual(
      clicks.map((c) => [c.type, c.url, c.machine, c.first]),
      [
        ['Clicked', 'https://shop.test/order?id=1&x=2', null, true],
        ['Clicked', 'https://shop.test/order?id=1&x=2', 'generic', false],
      ],
    );
  });

  it("behind a trusted proxy the reader's address comes from X-Forwarded-For; from anyone else it is ignored", async () => {
    const { pixel } = await trackingUrls('bob@example.com');
    const bob = messages.find((m) => m.envelope.to[0]?.address === 'bob@example.com');
    const fetchFrom = (localAddress: string, forwardedFor: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpGet(
          pixel as string,
          { localAddress, headers: { 'user-agent': BROWSER, 'x-forwarded-for': forwardedFor } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
      });
    assert.equal(await fetchFrom('127.0.0.2', '203.0.113.50'), 200);
    assert.equal(await fetchFrom('127.0.0.1', '198.51.100.66'), 200);
    const opens = (await engagement(bob?.messageId as string)).filter((e) => e.type === 'Opened');
    assert.deepEqual(
      opens.slice(-2).map((o) => o.ip?.replace(/^::ffff:/, '')),
      ['203.0.113.50', '127.0.0.1'],
    );
  });

  it('a link whose URL was changed redirects nowhere and records nothing', async () => {
    const { link } = await trackingUrls('bob@example.com');
    const token = (link as string).split('/c/')[1] as string;
    const [id, index, , mac] = token.split('.');
    const forged = `${api.baseUrl}/t/c/${[id, index, Buffer.from('https://evil.test/').toString('base64url'), mac].join('.')}`;
    const bob = messages.find((m) => m.envelope.to[0]?.address === 'bob@example.com');
    const before = (await engagement(bob?.messageId as string)).length;
    const response = await fetch(forged, { redirect: 'manual' });
    assert.equal(response.status, 404);
    assert.equal(response.headers.get('location'), null);
    assert.equal((await engagement(bob?.messageId as string)).length, before);
  });

  it('untracked mail has no pixel and no rewritten links, and stays one message', async () => {
    const response = await pm.sendEmail({
      From: 'team@shop.test',
      To: 'cy@example.com, di@example.com',
      Subject: 'plain',
      HtmlBody: '<p><a href="https://shop.test/x">x</a></p>',
    });
    const [untracked] = await storedAs(response.MessageID);
    assert.equal(untracked?.envelope.to.length, 2);
    const { pixel, link } = await trackingUrls('cy@example.com');
    assert.deepEqual([pixel, link], [undefined, undefined]);
  });

  it('Postmark HtmlAndText tracks the text part too, and a click there is recorded as a text click', async () => {
    const response = await pm.sendEmail({
      From: 'team@shop.test',
      To: 'fay@example.com',
      Subject: 'both parts',
      HtmlBody: '<p><a href="https://shop.test/h">h</a></p>',
      TextBody: 'Your order (https://shop.test/o?id=7). Help: https://shop.test/help.',
      TrackLinks: 'HtmlAndText' as postmark.Models.LinkTrackingOptions,
    });
    assert.equal(response.ErrorCode, 0);
    const { link } = await trackingUrls('fay@example.com');
    assert.ok(link, 'the HTML link is tracked');
    const text = (await api.received('fay@example.com')).text ?? '';
    assert.match(text, /^Your order \(https:\/\/track\.shop\.test\/t\/c\/\S+\)\. Help: \S+\.\n?$/);
    const links = await textLinks('fay@example.com');
    assert.equal(links.length, 2);
    const click = await fetch(links[0] as string, {
      redirect: 'manual',
      headers: { 'user-agent': BROWSER },
    });
    assert.equal(click.status, 302);
    assert.equal(click.headers.get('location'), 'https://shop.test/o?id=7');
    await fetch(link as string, { redirect: 'manual', headers: { 'user-agent': BROWSER } });
    const clicks = await engagement(response.MessageID);
    assert.deepEqual(
      clicks.map((c) => [c.url, c.location]),
      [
        ['https://shop.test/o?id=7', 'text'],
        ['https://shop.test/h', 'html'],
      ],
    );
    const config = join(api.relay.dir, 'mailtrail.yaml');
    writeFileSync(config, `dataDir: ${api.relay.config.dataDir}\n`);
    const shown = spawnSync(
      process.execPath,
      [BIN, 'messages', 'show', response.MessageID, '--config', config],
      {
        cwd: REPO,
        encoding: 'utf8',
      },
    );
    assert.match(shown.stdout, /https:\/\/shop\.test\/o\?id=7 \(in the text part\)/);
    assert.doesNotMatch(shown.stdout, /https:\/\/shop\.test\/h \(in the text part\)/);
  });

  it('a long link and one with letters beyond ASCII redirect, the latter in its ASCII form; the click records the link as written', async () => {
    const long = `https://shop.test/orders/42/items?${'utm_campaign=autumn-sale&'.repeat(8)}ref=mail`;
    const response = await pm.sendEmail({
      From: 'team@shop.test',
      To: 'max@example.com',
      Subject: 'long links',
      HtmlBody: `<p><a href="${long.replace(/&/g, '&amp;')}">order</a></p>`,
      TextBody: 'Größe: https://shop.test/größe?q=straße',
      TrackLinks: 'HtmlAndText' as postmark.Models.LinkTrackingOptions,
    });
    const { link } = await trackingUrls('max@example.com');
    const [wide] = await textLinks('max@example.com');
    const follow = (url: string) =>
      fetch(url, { redirect: 'manual', headers: { 'user-agent': BROWSER } });
    const first = await follow(link as string);
    assert.equal(first.status, 302, `a ${link?.length}-character tracking URL`);
    assert.equal(first.headers.get('location'), long);
    const second = await follow(wide as string);
    assert.equal(second.status, 302);
    assert.equal(second.headers.get('location'), 'https://shop.test/gr%C3%B6%C3%9Fe?q=stra%C3%9Fe');
    assert.deepEqual(
      (await engagement(response.MessageID)).map((c) => c.url),
      [long, 'https://shop.test/größe?q=straße'],
    );
  });

  it("Postmark TextOnly tracks the text's links and leaves the HTML's; a text-only message is tracked per recipient", async () => {
    const response = await pm.sendEmail({
      From: 'team@shop.test',
      To: 'ed@example.com',
      Subject: 'text links only',
      HtmlBody: '<p><a href="https://shop.test/y">y</a></p>',
      TextBody: 'y: https://shop.test/y',
      TrackLinks: 'TextOnly' as postmark.Models.LinkTrackingOptions,
    });
    assert.equal(response.ErrorCode, 0);
    assert.equal((await trackingUrls('ed@example.com')).link, undefined);
    assert.equal((await textLinks('ed@example.com')).length, 1);
    const [stored] = await storedAs(response.MessageID);
    assert.deepEqual(stored?.tracking, { opens: false, clicks: true });

    const plain = await pm.sendEmail({
      From: 'team@shop.test',
      To: 'gus@example.com, hal@example.com',
      Subject: 'no html',
      TextBody: 'See https://shop.test/z',
      TrackOpens: true,
      TrackLinks: 'HtmlAndText' as postmark.Models.LinkTrackingOptions,
    });
    const copies = (await acceptedMessages(api.relay.store))
      .map((e) => e.data as Accepted)
      .filter((d) => d.headers.subject === 'no html');
    assert.equal(copies.length, 2, 'one message per recipient');
    // No HTML, so no pixel: only the links are tracked.
    for (const c of copies) assert.deepEqual(c.tracking, { opens: false, clicks: true });
    const [gus, hal] = [await textLinks('gus@example.com'), await textLinks('hal@example.com')];
    assert.equal(gus.length, 1);
    assert.notEqual(gus[0], hal[0]);
    assert.equal(plain.ErrorCode, 0);
  });

  it('Mailgun o:tracking-clicks: htmlonly leaves the text alone, yes tracks both parts', async () => {
    const send = (to: string, clicks: 'htmlonly' | 'yes') =>
      mg.messages.create(api.domain, {
        from: 'team@shop.test',
        to,
        subject: `mailgun clicks ${clicks}`,
        text: 'Go: https://shop.test/m',
        html: '<p><a href="https://shop.test/m">go</a></p>',
        'o:tracking-clicks': clicks,
      });
    await send('ivy@example.com', 'htmlonly');
    await send('jo@example.com', 'yes');
    assert.ok((await trackingUrls('ivy@example.com')).link);
    assert.deepEqual(await textLinks('ivy@example.com'), []);
    assert.ok((await trackingUrls('jo@example.com')).link);
    assert.equal((await textLinks('jo@example.com')).length, 1);
  });

  it('SendGrid click_tracking: enable tracks the HTML, enable_text the text too', async () => {
    const send = (to: string, enableText: boolean) =>
      sg.send({
        from: 'team@shop.test',
        to,
        subject: `sendgrid clicks ${enableText}`,
        text: 'Go: https://shop.test/s',
        html: '<p><a href="https://shop.test/s">go</a></p>',
        trackingSettings: { clickTracking: { enable: true, enableText } },
      });
    await send('kim@example.com', false);
    await send('lou@example.com', true);
    assert.ok((await trackingUrls('kim@example.com')).link);
    assert.deepEqual(await textLinks('kim@example.com'), []);
    assert.ok((await trackingUrls('lou@example.com')).link);
    assert.equal((await textLinks('lou@example.com')).length, 1);
  });
});
