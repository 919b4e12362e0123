/**
 * Who fetched a pixel or followed a link, as far as the request tells: Apple Mail Privacy
 * Protection prefetches every image through Apple's proxies (17.0.0.0/8, a bare
 * `Mozilla/5.0`); Gmail's image proxy fetches on the reader's behalf, once; security
 * gateways and previewers follow every link. They are recorded and flagged, not dropped:
 * Mailgun's `client-info.bot` values (apple, gmail, generic), or null for a person.
 */
export type MachineKind = 'apple' | 'gmail' | 'generic';

const SCANNERS =
  /bot\b|crawler|spider|scanner|preview|barracuda|proofpoint|mimecast|symantec|trend ?micro|forcepoint|cisco|safelinks|python-requests|python-urllib|curl\/|wget|go-http-client|java\/|okhttp|headless|phantomjs|slackbot|facebookexternalhit|linkedinbot|twitterbot/i;

/**
 * Office's own requests. Outlook for Windows loads a message's images itself, under these
 * names (`Microsoft Office/16.0 (…; Microsoft Outlook 16.0…)`, `ms-office; MSOffice 16`): a
 * person reading. A link clicked in Outlook or another Office app is first checked by
 * Office under the same names, then opened in the browser, whose request is the person's.
 */
const OFFICE = /ms-office|microsoft office/i;

export const machineKind = (request: {
  readonly userAgent: string | null;
  readonly ip: string | null;
  /** HEAD requests come from link checkers, never from a person clicking. */
  readonly method?: string;
  /** What was fetched: the pixel (an open) or a link (a click). */
  readonly fetched: 'pixel' | 'link';
}): MachineKind | null => {
  const ua = (request.userAgent ?? '').trim();
  const ip = (request.ip ?? '').replace(/^::ffff:/, '');
  if (ip.startsWith('17.') || ua === 'Mozilla/5.0') return 'apple';
  if (/GoogleImageProxy|via ggpht\.com/i.test(ua)) return 'gmail';
  if (ua === '' || request.method === 'HEAD' || SCANNERS.test(ua)) return 'generic';
  if (request.fetched === 'link' && OFFICE.test(ua)) return 'generic';
  return null;
};
