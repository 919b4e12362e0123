import * as mimeFuncs from 'nodemailer/lib/mime-funcs/index.js';
import MimeNode from 'nodemailer/lib/mime-node/index.js';

// RFC 5322 §2.1.1: a line is at most 998 octets, CRLF aside.
const MAX_LINE = 998;

/**
 * Whether folding at blanks still leaves a line over 998 octets: a value with a run that
 * long and no blank in it (a token, a long URL). Counted as if every run followed the name.
 */
const isUnfoldable = (name: string, value: string): boolean =>
  Buffer.byteLength(value) + name.length + 2 > MAX_LINE &&
  value.split(/[ \t]+/).some((run) => Buffer.byteLength(run) + name.length + 2 > MAX_LINE);

/**
 * Such a value as RFC 2047 encoded-words of 52 characters: they fold, and a reader decodes
 * them back to the very value (RFC 2047 §6.2 joins adjacent words without the blank). Only
 * for `X-` fields, whose value is unstructured text: in References, Reply-To or a List-*
 * field encoded-words are not allowed, and such a value is left as it came.
 */
const mayEncode = (name: string): boolean => /^x-/i.test(name);

const asEncodedWords = (value: string): string => mimeFuncs.encodeWord(value, 'Q', 52);

/** A custom header for MailComposer: as given, or encoded when it could not be folded. */
export const composerHeader = (
  key: string,
  value: string,
): { readonly key: string; readonly value: string } =>
  mayEncode(key) && isUnfoldable(key, value)
    ? {
        key,
        // MailComposer's own form for a value it must not encode again; its typings know
        // only strings.
        value: { prepared: true, foldLines: true, value: asEncodedWords(value) } as never,
      }
    : { key, value };

/**
 * A header field as text, folded at 76 where it can be and never over 998 octets a line;
 * null for a structured field that cannot be (it cannot be encoded either).
 */
export const headerLine = (name: string, value: string): string | null => {
  if (!isUnfoldable(name, value))
    return mimeFuncs.foldLines(`${name}: ${MimeNode.encodeHeaderValue(name, value)}`);
  return mayEncode(name) ? mimeFuncs.foldLines(`${name}: ${asEncodedWords(value)}`) : null;
};
