/**
 * Who fetched a pixel or followed a link, as far as the request tells: Apple Mail Privacy
 * Protection prefetches every image through Apple's proxies (17.0.0.0/8, a bare
 * `Mozilla/5.0`); Gmail's image proxy fetches on the reader's behalf, once; security
 * gateways and previewers follow every link. They are recorded and flagged, not dropped:
 * Mailgun's `client-info.bot` values (apple, gmail, generic), or null for a person.
 */
export type MachineKind = 'apple' | 'gmail' | 'generic';

const SCANNERS =
  /bot\b|crawler|spider|scanner|preview|barracuda|proofpoint|mimecast|symantec|trend ?micro|forcepoint|cisco|safelinks|ms-office|microsoft office|python-requests|python-urllib|curl\/|wget|go-http-client|java\/|okhttp|headless|phantomjs|slackbot|facebookexternalhit|linkedinbot|twitterbot/i;

export const machineKind = (request: {
  readonly userAgent: string | null;
  readonly ip: string | null;
  /** HEAD requests come from link checkers, never from a person clicking. */
  readonly method?: string;
}): MachineKind | null => {
  const ua = (request.userAgent ?? '').trim();
  const ip = (request.ip ?? '').replace(/^::ffff:/, '');
  if (ip.startsWith('17.') || ua === 'Mozilla/5.0') return 'apple';
  if (/GoogleImageProxy|via ggpht\.com/i.test(ua)) return 'gmail';
  if (ua === '' || request.method === 'HEAD' || SCANNERS.test(ua)) return 'generic';
  return null;
};
