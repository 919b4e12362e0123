/**
 * Who opened or clicked, as far as a User-Agent tells: Mailgun's `client-info` and Postmark's
 * Client / OS / Platform are both derived from it. A short table of the clients that matter
 * for mail, not a full user-agent parser: anything else reads as unknown, which both
 * providers also send.
 */
export type ClientKind = 'browser' | 'email client' | 'unknown';
export type DeviceType = 'desktop' | 'mobile' | 'tablet' | 'unknown';

export interface Named {
  readonly name: string;
  readonly company: string;
}

export interface ClientInfo {
  readonly client: Named & { readonly kind: ClientKind };
  readonly os: Named;
  readonly device: DeviceType;
}

export const UNKNOWN = 'unknown';

interface Rule<T> {
  readonly test: (userAgent: string) => boolean;
  readonly value: T;
}

const matches =
  (pattern: RegExp) =>
  (userAgent: string): boolean =>
    pattern.test(userAgent);

/** First match wins: proxies and mail clients before the browsers whose tokens they carry. */
const CLIENTS: readonly Rule<Named & { readonly kind: ClientKind }>[] = [
  {
    test: matches(/GoogleImageProxy|via ggpht\.com/i),
    value: { name: 'Gmail', company: 'Google', kind: 'email client' },
  },
  {
    test: matches(/YahooMailProxy/i),
    value: { name: 'Yahoo! Mail', company: 'Yahoo', kind: 'email client' },
  },
  {
    test: matches(/Outlook|Microsoft Office|MSOffice/i),
    value: { name: 'Outlook', company: 'Microsoft Corporation', kind: 'email client' },
  },
  {
    test: matches(/Thunderbird\//),
    value: { name: 'Thunderbird', company: 'Mozilla', kind: 'email client' },
  },
  {
    test: matches(/Edg(?:e|A|iOS)?\//),
    value: { name: 'Edge', company: 'Microsoft Corporation', kind: 'browser' },
  },
  { test: matches(/OPR\/|Opera/), value: { name: 'Opera', company: 'Opera', kind: 'browser' } },
  {
    test: matches(/Firefox\/|FxiOS\//),
    value: { name: 'Firefox', company: 'Mozilla', kind: 'browser' },
  },
  {
    test: matches(/Chrome\/|CriOS\//),
    value: { name: 'Chrome', company: 'Google', kind: 'browser' },
  },
  {
    test: (ua) => /Safari\//.test(ua) && /Mobile/.test(ua),
    value: { name: 'Mobile Safari', company: 'Apple Computer, Inc.', kind: 'browser' },
  },
  {
    test: matches(/Safari\//),
    value: { name: 'Safari', company: 'Apple Computer, Inc.', kind: 'browser' },
  },
  // Apple Mail renders with WebKit but, unlike Safari, names no browser.
  {
    test: (ua) => /AppleWebKit\//.test(ua) && /iPhone|iPad|iPod|Macintosh/.test(ua),
    value: { name: 'Apple Mail', company: 'Apple Computer, Inc.', kind: 'email client' },
  },
];

const SYSTEMS: readonly Rule<Named>[] = [
  { test: matches(/iPhone|iPad|iPod/), value: { name: 'iOS', company: 'Apple Computer, Inc.' } },
  { test: matches(/Android/), value: { name: 'Android', company: 'Google' } },
  { test: matches(/CrOS/), value: { name: 'Chrome OS', company: 'Google' } },
  { test: matches(/Mac OS X|Macintosh/), value: { name: 'OS X', company: 'Apple Computer, Inc.' } },
  { test: matches(/Windows/), value: { name: 'Windows', company: 'Microsoft Corporation' } },
  { test: matches(/Linux|X11/), value: { name: 'Linux', company: UNKNOWN } },
];

const DESKTOPS: ReadonlySet<string> = new Set(['OS X', 'Windows', 'Linux', 'Chrome OS']);

const first = <T>(rules: readonly Rule<T>[], userAgent: string): T | null =>
  rules.find((rule) => rule.test(userAgent))?.value ?? null;

const deviceOf = (userAgent: string, os: string): DeviceType => {
  // Android tablets are the Android devices that do not say Mobile.
  if (/iPad|Tablet/.test(userAgent) || (/Android/.test(userAgent) && !/Mobile/.test(userAgent)))
    return 'tablet';
  if (/iPhone|iPod|Mobile|Android/.test(userAgent)) return 'mobile';
  return DESKTOPS.has(os) ? 'desktop' : 'unknown';
};

/** Image proxies fetch from a data centre: the OS they claim says nothing of the reader's. */
const PROXIES: ReadonlySet<string> = new Set(['Gmail', 'Yahoo! Mail']);

const UNKNOWN_OS: Named = { name: UNKNOWN, company: UNKNOWN };

export const clientInfo = (userAgent: string | null): ClientInfo => {
  const ua = (userAgent ?? '').trim();
  const client = first(CLIENTS, ua) ?? { name: UNKNOWN, company: UNKNOWN, kind: 'unknown' };
  if (PROXIES.has(client.name)) return { client, os: UNKNOWN_OS, device: 'unknown' };
  const os = first(SYSTEMS, ua) ?? UNKNOWN_OS;
  return { client, os, device: deviceOf(ua, os.name) };
};
