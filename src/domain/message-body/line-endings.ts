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

/** Counts what SMTP forbids in message content (RFC 5321 §2.3.8, §4.5.3.1.6). */
export const inspectLineEndings = (bytes: Uint8Array): LineEndingReport => {
  let bareCr = 0;
  let bareLf = 0;
  let nul = 0;
  let longestLine = 0;
  let lineStart = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === LF) {
      if (i === 0 || bytes[i - 1] !== CR) bareLf++;
      const end = i > 0 && bytes[i - 1] === CR ? i - 1 : i;
      if (end - lineStart > longestLine) longestLine = end - lineStart;
      lineStart = i + 1;
    } else if (b === CR) {
      if (i + 1 >= n || bytes[i + 1] !== LF) bareCr++;
    } else if (b === NUL) nul++;
  }
  if (n - lineStart > longestLine) longestLine = n - lineStart;
  return { bareCr, bareLf, nul, longestLine };
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
