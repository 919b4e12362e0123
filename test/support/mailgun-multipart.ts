import type { ApiRelay } from './api-relay.js';

/** One part of a hand-built multipart/form-data body: its field, its bytes, its own type. */
export interface RawPart {
  readonly name: string;
  readonly value: Buffer;
  /** The part's Content-Type (a charset, say); none when absent. */
  readonly type?: string;
}

/**
 * Posts a multipart body built byte by byte to Mailgun's messages endpoint with the relay's
 * key: what no SDK sends but clients may (raw bytes that are not UTF-8, a part's own
 * charset, a preamble before the first boundary).
 */
export const postMailgunMultipart = (
  api: Pick<ApiRelay, 'baseUrl' | 'domain' | 'apiKey'>,
  parts: readonly RawPart[],
  preamble = '',
): Promise<Response> => {
  const boundary = 'mailtrailboundary';
  const body = Buffer.concat([
    Buffer.from(preamble, 'latin1'),
    ...parts.flatMap(({ name, value, type }) => [
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n` +
          `${type ? `Content-Type: ${type}\r\n` : ''}\r\n`,
        'latin1',
      ),
      value,
      Buffer.from('\r\n'),
    ]),
    Buffer.from(`--${boundary}--\r\n`),
  ]);
  return fetch(`${api.baseUrl}/v3/${api.domain}/messages`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`api:${api.apiKey}`).toString('base64')}`,
      'content-type': `multipart/form-data; boundary=${boundary}`,
    },
    body,
  });
};
