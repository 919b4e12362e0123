import libmime from 'libmime';

/** The header fields the relay reads; the body is never parsed. */
export interface HeaderSummary {
  readonly messageId: string | null;
  readonly subject: string | null;
  readonly from: string | null;
  readonly date: string | null;
  readonly jobId: string | null;
  /** `X-Mailtrail-Lane: bulk`, or `Precedence: bulk | list`, marks bulk mail. */
  readonly lane: 'transactional' | 'bulk';
  /** `X-Mailtrail-Pool`: the egress pool the sender asks for. */
  readonly pool: string | null;
  /**
   * Whether we add one-click unsubscribe headers: not when the sender wrote its own
   * List-Unsubscribe, nor when it says `X-Mailtrail-Unsubscribe: off`; `on` asks for them
   * on transactional mail too (bulk mail gets them by default).
   */
  readonly unsubscribe: 'on' | 'off' | 'default';
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Octet offset where the header section ends (after its blank line), or -1. */
export const headerEnd = (bytes: Buffer): number => {
  if (bytes.subarray(0, 2).toString('latin1') === '\r\n') return 2;
  const at = bytes.indexOf(CRLFCRLF);
  return at < 0 ? -1 : at + 4;
};

/** Unfolded header fields in order, names as sent. */
export const parseHeaderFields = (bytes: Buffer): Array<[string, string]> => {
  const end = headerEnd(bytes);
  const text = bytes.subarray(0, end < 0 ? bytes.length : end).toString('utf8');
  const fields: Array<[string, string]> = [];
  for (const line of text.split('\r\n')) {
    if (line === '') break;
    const last = fields[fields.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      // A value folded before its first word (nodemailer does that to a long Message-ID)
      // starts at that word: no blank in front of it.
      last[1] = last[1] === '' ? line.trim() : `${last[1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return fields;
};

/**
 * A header value as people read it, RFC 2047 encoded-words decoded (`=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=`
 * is `Grüße`): for showing only, as a decoded From: may not parse as the address it was.
 */
export const readable = (value: string | null): string | null =>
  value?.includes('=?') ? libmime.decodeWords(value) : value;

export const summarizeHeaders = (
  fields: ReadonlyArray<readonly [string, string]>,
): HeaderSummary => {
  const get = (name: string): string | null =>
    fields.find(([n]) => n.toLowerCase() === name)?.[1] ?? null;
  return {
    messageId: get('message-id'),
    subject: get('subject'),
    from: get('from'),
    date: get('date'),
    jobId: get('x-job'),
    pool: get('x-mailtrail-pool'),
    lane:
      /^bulk$/i.test(get('x-mailtrail-lane') ?? '') ||
      /^(bulk|list)$/i.test(get('precedence') ?? '')
        ? 'bulk'
        : 'transactional',
    unsubscribe: get('list-unsubscribe')
      ? 'off'
      : /^off$/i.test(get('x-mailtrail-unsubscribe') ?? '')
        ? 'off'
        : /^on$/i.test(get('x-mailtrail-unsubscribe') ?? '')
          ? 'on'
          : 'default',
  };
};

/**
 * The message without the named header fields (with their folded continuation lines), the
 * rest byte for byte. Returns the same buffer when none is there, the common case.
 */
export const withoutHeaderFields = (bytes: Buffer, names: readonly string[]): Buffer => {
  const end = headerEnd(bytes);
  const head = bytes.subarray(0, end < 0 ? bytes.length : end).toString('latin1');
  const lower = names.map((n) => `${n.toLowerCase()}:`);
  const lines = head.split('\r\n');
  const kept: string[] = [];
  let dropping = false;
  let dropped = false;
  for (const line of lines) {
    const continuation = line.startsWith(' ') || line.startsWith('\t');
    if (!continuation) dropping = lower.some((n) => line.toLowerCase().startsWith(n));
    if (dropping) dropped = true;
    else kept.push(line);
  }
  if (!dropped) return bytes;
  return Buffer.concat([
    Buffer.from(kept.join('\r\n'), 'latin1'),
    bytes.subarray(end < 0 ? bytes.length : end),
  ]);
};
