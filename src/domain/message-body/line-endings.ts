const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;

export interface LineEndingReport {
  readonly bareCr: number;
  readonly bareLf: number;
  readonly nul: number;
  /** Longest line in octets, without its CRLF. */
  readonly longestLine: number;
}

export const isClean = (r: LineEndingReport): boolean =>
  r.bareCr === 0 && r.bareLf === 0 && r.nul === 0;

const countByte = (bytes: Buffer, byte: number): number => {
  let count = 0;
  for (let at = bytes.indexOf(byte); at >= 0; at = bytes.indexOf(byte, at + 1)) count++;
  return count;
};

/**
 * Counts what SMTP forbids in message content (RFC 5321 §2.3.8, §4.5.3.1.6). It walks from
 * line end to line end with Buffer.indexOf (native), so a 100 KB message costs a few
 * thousand steps rather than a hundred thousand.
 */
export const inspectLineEndings = (input: Uint8Array): LineEndingReport => {
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let bareLf = 0;
  let crlf = 0;
  let longestLine = 0;
  let lineStart = 0;
  for (let lf = bytes.indexOf(LF); lf >= 0; lf = bytes.indexOf(LF, lf + 1)) {
    const hasCr = lf > 0 && bytes[lf - 1] === CR;
    if (hasCr) crlf++;
    else bareLf++;
    const length = (hasCr ? lf - 1 : lf) - lineStart;
    if (length > longestLine) longestLine = length;
    lineStart = lf + 1;
  }
  if (bytes.length - lineStart > longestLine) longestLine = bytes.length - lineStart;
  // Every CR that is not the CR of a CRLF is bare.
  const bareCr = countByte(bytes, CR) - crlf;
  return { bareCr, bareLf, nul: countByte(bytes, NUL), longestLine };
};

/**
 * Rewrites content to canonical CRLF: a bare CR, a bare LF and a CR run before LF each
 * become one CRLF, and NUL is dropped. After this, no `<CR>.<CR>` or `<LF>.<LF>` can reach a
 * receiver: every line ends in CRLF, and the SMTP client's dot-stuffing covers the rest.
 */
export const normalizeLineEndings = (bytes: Uint8Array): Uint8Array => {
  const out = new Uint8Array(bytes.length * 2);
  let o = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i] as number;
    if (b === CR) {
      while (i + 1 < n && bytes[i + 1] === CR && i + 2 < n && bytes[i + 2] === LF) i++;
      out[o++] = CR;
      out[o++] = LF;
      if (i + 1 < n && bytes[i + 1] === LF) i++;
    } else if (b === LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (b !== NUL) out[o++] = b;
  }
  return out.subarray(0, o);
};
