import type { FastifyBaseLogger } from 'fastify';
import type { ApiSubmissionPort } from './api-submission-port.js';

/** What each provider's routes are given by the relay. */
export interface ApiRouteDeps {
  readonly port: ApiSubmissionPort;
  readonly now: () => number;
  /** One id per request: Mailgun's `id`, SendGrid's X-Message-Id. */
  readonly newBatchId: () => string;
  readonly log: FastifyBaseLogger;
}

/** `Basic base64(user:password)` into its parts; null when it is not Basic. */
export const basicCredentials = (
  header: string | undefined,
): { readonly user: string; readonly password: string } | null => {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
};

/** The status an error thrown while reading a request should get: its own 4xx, else 500. */
export const clientErrorStatus = (error: { statusCode?: number }): number | null =>
  error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500
    ? error.statusCode
    : null;

/** Seconds until `retryAt`, for a Retry-After header (at least 1). */
export const retryAfterSeconds = (retryAt: number, now: number): string =>
  String(Math.max(1, Math.ceil((retryAt - now) / 1000)));

/** An RFC 2822 date, as Mailgun writes its "try again after" times. */
export const rfc2822Date = (ms: number): string =>
  new Date(ms).toUTCString().replace('GMT', '+0000');
