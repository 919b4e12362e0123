import type { WebhookRequest } from './webhook-request.js';

export interface PostResult {
  /** The HTTP status; null when no answer came. */
  readonly status: number | null;
  /** Why there was no answer, or the start of a non-2xx answer's body, for the attempt log. */
  readonly error: string | null;
  readonly durationMs: number;
}

/**
 * One POST with a deadline. Redirects are not followed (a 3xx is an answer like any other
 * non-2xx: the receiver's URL is wrong), and the body of an answer is read only to keep
 * the first 200 characters of a failure for the attempt log.
 */
export const postWebhook = async (
  url: string,
  request: WebhookRequest,
  timeoutMs: number,
  options: { readonly signal?: AbortSignal; readonly now?: () => number } = {},
): Promise<PostResult> => {
  const now = options.now ?? Date.now;
  const deadline = AbortSignal.timeout(timeoutMs);
  const started = now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: options.signal ? AbortSignal.any([deadline, options.signal]) : deadline,
    });
    const ok = response.status >= 200 && response.status < 300;
    let text = '';
    if (ok) await response.body?.cancel();
    else text = await response.text();
    return {
      status: response.status,
      error: ok ? null : `${response.status} ${text.slice(0, 200)}`.trim(),
      durationMs: now() - started,
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = deadline.aborted
      ? `no answer within ${timeoutMs} ms`
      : (cause?.code ?? cause?.message ?? (error as Error).message);
    return { status: null, error: reason, durationMs: now() - started };
  }
};
