import { createHash } from 'node:crypto';

/**
 * RFC 6376 §3.4.4 "relaxed" body canonicalization plus hash, byte-for-byte the result of
 * mailauth's `dkimBody('relaxed', algorithm, false)` fed the whole body in one `update`
 * (which is what its signer and verifier see), but with native operations instead of a
 * JavaScript byte loop.
 *
 * mailauth's canonicalizer, which the verifiers we test against use, works line by line:
 * - a line ending in LF is rewritten only when it is "flagged": it holds a TAB or two
 *   adjacent spaces, its LF is not preceded by CR, or it ends in SP CR LF. A line that is
 *   not flagged is hashed as it is, even if it holds a bare CR next to a space;
 * - the text after the last LF is rewritten only when it holds a TAB or two adjacent
 *   spaces (so a single trailing space there is kept);
 * - rewriting a line (`fixLine` below) turns a bare LF into CRLF, drops whitespace after
 *   the last visible character, and turns every other run of whitespace into one space.
 *   A bare CR inside a run counts as neither whitespace nor a visible character;
 * - then every CR and LF at the very end of the result is dropped, and CRLF is added
 *   if anything is left.
 */
export const relaxedBodyHash = (body: Buffer, algorithm: 'sha256' = 'sha256'): string => {
  const hash = createHash(algorithm);
  if (body.length === 0) return hash.digest('base64');

  const bareLf = hasBareLf(body);
  if (
    !bareLf &&
    body.indexOf(TAB) === -1 &&
    body.indexOf(TWO_SPACES) === -1 &&
    body.indexOf(SPACE_CRLF) === -1
  ) {
    // No line needs rewriting (no TAB, no two adjacent spaces, no SP CR LF, no LF without
    // CR): the canonical body is the body minus the CRs and LFs at its end, plus CRLF.
    const end = endWithoutTrailingBreaks(body);
    if (end > 0) hash.update(end === body.length ? body : body.subarray(0, end)).update(CRLF);
    return hash.digest('base64');
  }

  const text = body.toString('latin1');
  const lastLf = body.lastIndexOf(LF);
  const lines = text.slice(0, lastLf + 1);
  const rest = text.slice(lastLf + 1);
  const canonical =
    (hasBareCr(body, lastLf) ? fixLinesOneByOne(lines) : fixLinesAtOnce(lines, bareLf)) +
    (rest.includes('\t') || rest.includes('  ') ? fixLine(rest) : rest);

  let end = canonical.length;
  while (end > 0) {
    const c = canonical.charCodeAt(end - 1);
    if (c !== LF && c !== CR) break;
    end--;
  }
  if (end > 0) hash.update(canonical.slice(0, end), 'latin1').update(CRLF);
  return hash.digest('base64');
};

const CR = 0x0d;
const LF = 0x0a;
const TAB = 0x09;
const CRLF = Buffer.from('\r\n', 'latin1');
const TWO_SPACES = Buffer.from('  ', 'latin1');
const SPACE_CRLF = Buffer.from(' \r\n', 'latin1');

/** Whether some LF has no CR before it. */
const hasBareLf = (body: Buffer): boolean => {
  for (let at = body.indexOf(LF); at !== -1; at = body.indexOf(LF, at + 1)) {
    if (at === 0 || body[at - 1] !== CR) return true;
  }
  return false;
};

/** Whether a CR that is not followed by LF occurs before `limit` (the last LF). */
const hasBareCr = (body: Buffer, limit: number): boolean => {
  for (let at = body.indexOf(CR); at !== -1 && at < limit; at = body.indexOf(CR, at + 1)) {
    if (body[at + 1] !== LF) return true;
  }
  return false;
};

const endWithoutTrailingBreaks = (body: Buffer): number => {
  let end = body.length;
  while (end > 0 && (body[end - 1] === LF || body[end - 1] === CR)) end--;
  return end;
};

/**
 * Complete lines (each ending in LF) holding no bare CR. Rewriting a line that is not
 * flagged changes nothing when it has no bare CR, so every line can be rewritten at once:
 * whitespace runs other than a single space become one space, then a space left before
 * the line break goes and every line break becomes CRLF.
 */
const fixLinesAtOnce = (lines: string, bareLf: boolean): string => {
  const collapsed = lines.replace(/\t[ \t]*| [ \t]+/g, ' ');
  return bareLf ? collapsed.replace(/ ?\r?\n/g, '\r\n') : collapsed.replace(/ \r\n/g, '\r\n');
};

/** Complete lines that may hold bare CRs: each is rewritten only if it is flagged. */
const fixLinesOneByOne = (lines: string): string => {
  let out = '';
  let start = 0;
  for (let lf = lines.indexOf('\n'); lf !== -1; lf = lines.indexOf('\n', start)) {
    const line = lines.slice(start, lf + 1);
    const flagged =
      line.includes('\t') ||
      line.includes('  ') ||
      lines.charCodeAt(lf - 1) !== CR ||
      lf === start ||
      line.endsWith(' \r\n');
    out += flagged ? fixLine(line) : line;
    start = lf + 1;
  }
  return out;
};

const dropWsp = (run: string): string => run.replace(/[ \t]/g, '');

/** mailauth's `fixLineBuffer`, for one line (ending in LF or not) as a latin1 string. */
const fixLine = (line: string): string => {
  let content = line;
  let eol = '';
  if (line.endsWith('\n')) {
    content = line.slice(0, -1);
    eol = content.endsWith('\r') ? '\n' : '\r\n';
  }
  return (
    content
      // whitespace after the last visible character goes; bare CRs there stay
      .replace(/[ \t\r]+$/, dropWsp)
      // any other run holding whitespace becomes one space followed by the run's CRs
      .replace(/[ \t\r]*[ \t][ \t\r]*/g, (run) => ` ${dropWsp(run)}`) + eol
  );
};
