import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { machineKind } from './machine-opens.js';
import {
  clickToken,
  instrumentHtml,
  instrumentText,
  MAX_TRACKED_LINKS,
  openToken,
  parseClickToken,
  parseOpenToken,
} from './tracking-links.js';

const key = Buffer.alloc(32, 7);
const target = { messageId: '01HZZZZZZZZZZZZZZZZZZZZZZZ', recipientIndex: 2 };

describe('tracking links', () => {
  it('click tokens carry their URL and refuse any change to it', () => {
    const url = 'https://shop.test/order?id=1&x=2';
    const token = clickToken(key, target, url);
    assert.deepEqual(parseClickToken(key, token), { target, url, location: 'html' });
    const [id, index, , mac] = token.split('.');
    const forged = [id, index, Buffer.from('https://evil.test/').toString('base64url'), mac].join(
      '.',
    );
    assert.equal(parseClickToken(key, forged), null, 'another URL under the same mac');
    assert.equal(parseClickToken(Buffer.alloc(32, 8), token), null, 'another key');
    assert.deepEqual(parseOpenToken(key, openToken(key, target)), target);
    assert.equal(parseOpenToken(key, `${openToken(key, target).slice(0, -1)}0`), null);
  });

  it('a text link says so in its token, and the mac holds it there', () => {
    const url = 'https://shop.test/a';
    const text = clickToken(key, target, url, 'text');
    assert.deepEqual(parseClickToken(key, text), { target, url, location: 'text' });
    const html = clickToken(key, target, url);
    assert.equal(parseClickToken(key, text.replace('.t.', '.')), null, 'text made html');
    const [id, index, b64, mac] = html.split('.');
    assert.equal(
      parseClickToken(key, [id, index, 't', b64, mac].join('.')),
      null,
      'html made text',
    );
  });

  it("rewrites a text's URLs and leaves the sentence around them as it was", () => {
    const t = { baseUrl: 'https://t.shop.test/t', key, target };
    const text = [
      'Order: https://shop.test/o?id=7&x=1.',
      '(see https://shop.test/help) or https://en.wikipedia.org/wiki/Mail_(protocol), then',
      '<https://shop.test/angle> "https://shop.test/quoted" ftp://shop.test/f http:// alone',
      'https://shop.test/a, https://shop.test/b; https://shop.test/c!',
    ].join('\n');
    const out = instrumentText(text, t);
    const TRACKED =
      /https:\/\/t\.shop\.test\/t\/c\/([0-9a-z]{26}\.[0-9a-z]+\.t\.[\w-]+\.[\w-]{22})/g;
    const found: string[] = [];
    const rest = out.replace(TRACKED, (_w, token) => {
      const parsed = parseClickToken(key, token);
      assert.equal(parsed?.location, 'text');
      found.push(parsed?.url as string);
      return '<L>';
    });
    assert.deepEqual(found, [
      'https://shop.test/o?id=7&x=1',
      'https://shop.test/help',
      'https://en.wikipedia.org/wiki/Mail_(protocol)',
      'https://shop.test/angle',
      'https://shop.test/quoted',
      'https://shop.test/a',
      'https://shop.test/b',
      'https://shop.test/c',
    ]);
    assert.equal(
      rest,
      [
        'Order: <L>.',
        '(see <L>) or <L>, then',
        '<<L>> "<L>" ftp://shop.test/f http:// alone',
        '<L>, <L>; <L>!',
      ].join('\n'),
    );
  });

  it('ends a URL at typographic quotes, punctuation beyond ASCII and control characters', () => {
    const t = { baseUrl: 'https://t.shop.test/t', key, target };
    const text =
      'Read “https://shop.test/q” or «https://shop.test/g», https://shop.test/more… ' +
      'https://shop.test/jp。（https://shop.test/w） https://shop.test/c\x1bX https://shop.test/straße.';
    const urls: string[] = [];
    const rest = instrumentText(text, t).replace(
      /https:\/\/t\.shop\.test\/t\/c\/([0-9a-z]{26}\.[0-9a-z]+\.t\.[\w-]+\.[\w-]{22})/g,
      (_w, token) => {
        urls.push(parseClickToken(key, token)?.url as string);
        return '<L>';
      },
    );
    assert.deepEqual(urls, [
      'https://shop.test/q',
      'https://shop.test/g',
      'https://shop.test/more',
      'https://shop.test/jp',
      'https://shop.test/w',
      'https://shop.test/c',
      'https://shop.test/straße',
    ]);
    assert.equal(rest, 'Read “<L>” or «<L>», <L>… <L>。（<L>） <L>\x1bX <L>.');
  });

  it('rewrites at most MAX_TRACKED_LINKS links a part; the rest stay as they were', () => {
    const t = { baseUrl: 'https://t.shop.test/t', key, target };
    const urls = Array.from({ length: MAX_TRACKED_LINKS + 3 }, (_, i) => `https://shop.test/${i}`);
    const text = instrumentText(urls.join('\n'), t).split('\n');
    assert.equal(
      text.filter((l) => l.startsWith('https://t.shop.test/')).length,
      MAX_TRACKED_LINKS,
    );
    assert.deepEqual(text.slice(-3), urls.slice(-3));
    const html = instrumentHtml(urls.map((u) => `<a href="${u}">x</a>`).join(''), {
      ...t,
      opens: false,
      clicks: true,
    });
    assert.equal(html.split('https://t.shop.test/').length - 1, MAX_TRACKED_LINKS);
    assert.ok(html.endsWith(`<a href="${urls.at(-1)}">x</a>`));
  });

  // The text is the client's: a bracket count redone for each stripped character held
  // the event loop for cubic time (40,000 brackets: 39 s; these: about 16 s each).
  // The test yields after each call so that its timeout, due meanwhile, fires first.
  it('reads the brackets after a URL in one pass', { timeout: 10_000 }, async () => {
    const t = { baseUrl: 'https://t.shop.test/t', key, target };
    for (const bracket of [')', ']']) {
      const out = instrumentText(`https://shop.test/a${bracket.repeat(30_000)}`, t);
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(out.startsWith('https://t.shop.test/t/c/'));
      assert.ok(out.endsWith(bracket.repeat(30_000)));
    }
  });

  it('rewrites http(s) links, leaves opted-out and other links alone, and adds the pixel before </body>', () => {
    const html =
      '<html><body><a href="https://shop.test/a?x=1&amp;y=2">A</a> <a class="b" href=\'http://shop.test/b\'>B</a>' +
      ' <a href="mailto:help@shop.test">mail</a> <a href="https://shop.test/c" disable-tracking=true>C</a>' +
      ' <a data-pm-no-track href="https://shop.test/d">D</a></body></html>';
    const out = instrumentHtml(html, {
      opens: true,
      clicks: true,
      baseUrl: 'https://t.shop.test/t',
      key,
      target,
    });
    const hrefs = [...out.matchAll(/href=["']([^"']+)["']/g)].map((m) => m[1] as string);
    const [a, b, mail, c, d] = hrefs;
    assert.equal(
      parseClickToken(key, (a as string).split('/c/')[1] as string)?.url,
      'https://shop.test/a?x=1&y=2',
    );
    assert.equal(
      parseClickToken(key, (b as string).split('/c/')[1] as string)?.url,
      'http://shop.test/b',
    );
    assert.deepEqual(
      [mail, c, d],
      ['mailto:help@shop.test', 'https://shop.test/c', 'https://shop.test/d'],
    );
    assert.match(
      out,
      /<img src="https:\/\/t\.shop\.test\/t\/o\/[^"]+" width="1" height="1"[^>]*><\/body>/,
    );
    assert.equal(
      instrumentHtml(html, { opens: false, clicks: false, baseUrl: 'x', key, target }),
      html,
    );
  });
});

describe('machine opens', () => {
  const pixel = (userAgent: string | null, ip: string) =>
    machineKind({ userAgent, ip, fetched: 'pixel' });
  const OUTLOOK_WINDOWS =
    'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)';

  it('flags Apple Mail Privacy Protection, the Gmail proxy and scanners; people pass', () => {
    assert.equal(pixel('Mozilla/5.0', '17.58.1.2'), 'apple');
    assert.equal(pixel('Mozilla/5.0', '203.0.113.9'), 'apple');
    assert.equal(
      pixel(
        'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
        '66.249.1.1',
      ),
      'gmail',
    );
    assert.equal(pixel('Barracuda Sentinel (EE)', '64.235.1.1'), 'generic');
    assert.equal(pixel(null, '198.51.100.1'), 'generic');
    assert.equal(
      machineKind({
        userAgent: 'Mozilla/5.0 (Macintosh)',
        ip: '198.51.100.1',
        method: 'HEAD',
        fetched: 'link',
      }),
      'generic',
    );
    assert.equal(
      pixel(
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
        '198.51.100.7',
      ),
      null,
    );
  });

  it('Outlook for Windows loading the pixel is a person; Office checking a link before the browser opens it is not', () => {
    for (const ua of [OUTLOOK_WINDOWS, 'Mozilla/4.0 (compatible; ms-office; MSOffice 16)']) {
      assert.equal(pixel(ua, '198.51.100.8'), null, ua);
      assert.equal(machineKind({ userAgent: ua, ip: '198.51.100.8', fetched: 'link' }), 'generic');
    }
  });
});
