import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseTargetToken, targetToken, type VerpTarget } from '../verp/verp.js';

/**
 * Open and click tracking URLs: `<base>/o/<token>` for the pixel, `<base>/c/<token>` for a
 * link. An open token is a recipient token (message id, recipient index, mac) under the
 * tracking key; a click token adds the link itself, base64url, and a mac over all of it,
 * so nobody can turn our redirect into an open redirect to a URL we never sent. A link in
 * the text part says so in its token (`.t.` before the URL), under the mac too, so a
 * click is told back where it was (Postmark's ClickLocation).
 */

/** Which part of the message a tracked link was in. */
export type LinkLocation = 'html' | 'text';

// Text links' macs start `text:`, which no HTML link's (an upper-case ULID first) can.
const linkMac = (
  key: Uint8Array,
  target: VerpTarget,
  url: string,
  location: LinkLocation,
): string =>
  createHmac('sha256', key)
    .update(
      `${location === 'text' ? 'text:' : ''}${target.messageId.toUpperCase()}.${target.recipientIndex}.${url}`,
    )
    .digest('base64url')
    .slice(0, 22);

export const openToken = (key: Uint8Array, target: VerpTarget): string => targetToken(key, target);

export const clickToken = (
  key: Uint8Array,
  target: VerpTarget,
  url: string,
  location: LinkLocation = 'html',
): string =>
  `${target.messageId.toLowerCase()}.${target.recipientIndex.toString(36)}.${location === 'text' ? 't.' : ''}${Buffer.from(url).toString('base64url')}.${linkMac(key, target, url, location)}`;

export const parseOpenToken = (key: Uint8Array, token: string): VerpTarget | null => {
  const parsed = parseTargetToken(key, token);
  return parsed.ok ? parsed.target : null;
};

const CLICK = /^([0-9a-z]{26})\.([0-9a-z]{1,4})\.(t\.)?([A-Za-z0-9_-]{2,})\.([A-Za-z0-9_-]{22})$/;

export const parseClickToken = (
  key: Uint8Array,
  token: string,
): {
  readonly target: VerpTarget;
  readonly url: string;
  readonly location: LinkLocation;
} | null => {
  const m = CLICK.exec(token);
  if (!m) return null;
  const target = {
    messageId: (m[1] as string).toUpperCase(),
    recipientIndex: Number.parseInt(m[2] as string, 36),
  };
  const location: LinkLocation = m[3] ? 'text' : 'html';
  const url = Buffer.from(m[4] as string, 'base64url').toString('utf8');
  const expected = Buffer.from(linkMac(key, target, url, location));
  const given = Buffer.from(m[5] as string);
  return expected.length === given.length && timingSafeEqual(expected, given)
    ? { target, url, location }
    : null;
};

// The providers' own opt-outs, honoured whichever API the message came through.
const NO_TRACK =
  /\b(disable-tracking\s*=\s*["']?true|clicktracking\s*=\s*["']?off|data-pm-no-track)\b/i;
const ANCHOR = /<a\b[^>]*>/gi;
/**
 * Links rewritten per part, as many as SendGrid tracks in one email; the rest stay as
 * they are. Each costs an HMAC on the event loop, for every recipient of the message.
 */
export const MAX_TRACKED_LINKS = 1000;
const HREF = /(\bhref\s*=\s*)(["'])(https?:\/\/[^"']+)\2/i;

const decodeAmp = (url: string): string => url.replace(/&amp;/g, '&');
const escapeAttr = (url: string): string => url.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

/** Where a recipient's tracking URLs point, and what signs them. */
export interface TrackingUrls {
  /** The public address of the tracking endpoints, without a trailing slash. */
  readonly baseUrl: string;
  readonly key: Uint8Array;
  readonly target: VerpTarget;
}

export interface Instrumentation extends TrackingUrls {
  readonly opens: boolean;
  readonly clicks: boolean;
}

/**
 * The HTML with its http(s) links sent through the click redirect and a 1×1 pixel before
 * `</body>` (or at the end). Links marked not to be tracked, and anything not http(s)
 * (mailto:, tel:, #anchors), stay as they are.
 */
export const instrumentHtml = (html: string, t: Instrumentation): string => {
  let out = html;
  if (t.clicks) {
    let left = MAX_TRACKED_LINKS;
    out = out.replace(ANCHOR, (tag) => {
      if (left === 0 || NO_TRACK.test(tag)) return tag;
      return tag.replace(HREF, (_whole, prefix: string, quote: string, url: string) => {
        left--;
        const target = decodeAmp(url);
        const tracked = `${t.baseUrl}/c/${clickToken(t.key, t.target, target)}`;
        return `${prefix}${quote}${escapeAttr(tracked)}${quote}`;
      });
    });
  }
  if (t.opens) {
    const pixel = `<img src="${t.baseUrl}/o/${openToken(t.key, t.target)}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">`;
    const end = out.search(/<\/body\s*>/i);
    out = end >= 0 ? `${out.slice(0, end)}${pixel}${out.slice(end)}` : `${out}${pixel}`;
  }
  return out;
};

/**
 * A URL in running text: printable ASCII but a space, a quote or an angle bracket (RFC 3986
 * App. C), and beyond ASCII the letters, marks and digits of an IRI (`/wiki/Straße`). Any
 * other character ends it: typographic quotes, `…`, `。`, a control character, an emoji.
 */
const TEXT_URL = /\bhttps?:\/\/[A-Za-z0-9[](?:[!#-;=?-~]|[\p{L}\p{M}\p{N}])*/giu;
const countOf = (text: string, char: string): number => {
  let n = 0;
  for (let at = text.indexOf(char); at >= 0; at = text.indexOf(char, at + 1)) n++;
  return n;
};

/**
 * Where a URL found in text really ends: punctuation after it belongs to the sentence, and
 * so does a closing bracket the URL did not open (`(see https://x.test/a)`), while a
 * balanced one stays (`https://en.wikipedia.org/wiki/Mail_(protocol)`). One pass from the
 * end, counts kept as it goes: the text is the client's and may be megabytes of `)`.
 */
const urlLength = (found: string): number => {
  const opened = { ')': countOf(found, '('), ']': countOf(found, '[') };
  const closed = { ')': countOf(found, ')'), ']': countOf(found, ']') };
  let end = found.length;
  for (;;) {
    const last = found[end - 1] as string;
    if (last === ')' || last === ']') {
      if (opened[last] >= closed[last]) return end;
      closed[last]--;
    } else if (!".,;:!?'*".includes(last)) return end;
    end--;
  }
};

/** The text with its http(s) URLs sent through the click redirect, as text links. */
export const instrumentText = (text: string, t: TrackingUrls): string => {
  let left = MAX_TRACKED_LINKS;
  return text.replace(TEXT_URL, (found) => {
    if (left === 0) return found;
    left--;
    const end = urlLength(found);
    const url = found.slice(0, end);
    if (!URL.canParse(url)) return found;
    return `${t.baseUrl}/c/${clickToken(t.key, t.target, url, 'text')}${found.slice(end)}`;
  });
};
