// mailauth ships types for its public entry point only; these declare the internal
// modules the DKIM adapter reuses (CommonJS, imported by their file paths).

declare module 'mailauth/lib/tools.js' {
  interface ParsedHeaderLine {
    /** Lower-cased field name, or null for a line without a colon. */
    key: string | null;
    /** The field name as written. */
    casedKey: string | undefined;
    /** The whole field, folded as in the message, without its final CRLF. */
    line: Buffer;
  }

  interface SigningHeaderLines {
    /** The h= value: field names, bottom-up, joined with ': '. */
    keys: string;
    headers: ParsedHeaderLine[];
  }

  /** Splits a header block (without the empty line) into fields. */
  export function parseHeaders(buf: Buffer): { parsed: ParsedHeaderLine[]; original: Buffer };

  /**
   * Picks the fields to sign. `fieldNames` is colon-separated; an array is ignored (the
   * default list is used). Signing (`verify` false) takes every instance, bottom-up.
   */
  export function getSigningHeaderLines(
    parsedHeaders: ParsedHeaderLine[],
    fieldNames?: string,
    verify?: boolean,
  ): SigningHeaderLines;

  export function formatSignatureHeaderLine(
    type: 'DKIM' | 'ARC' | 'AS',
    values: Record<string, string | number | boolean | undefined>,
    folded?: boolean,
  ): string;

  export function formatRelaxedLine(line: Buffer | string, suffix?: string): Buffer;
}

declare module 'mailauth/lib/dkim/header/relaxed.js' {
  import type { getSigningHeaderLines } from 'mailauth/lib/tools.js';

  interface RelaxedHeaderOptions {
    signatureHeaderLine?: string;
    signingDomain?: string;
    selector?: string;
    algorithm?: string;
    canonicalization?: string;
    bodyHash?: string;
    signTime?: Date | number;
    expires?: Date | number;
    signature?: string;
    instance?: number | false;
    bodyHashedBytes?: number;
  }

  /**
   * The relaxed canonical form of the signed fields followed by the signature field with
   * an empty b=, the signature field as used for it, and its tag values (undefined when
   * `signatureHeaderLine` was given).
   */
  export function relaxedHeaders(
    type: 'DKIM' | 'ARC',
    signingHeaderLines: ReturnType<typeof getSigningHeaderLines>,
    options: RelaxedHeaderOptions,
  ): {
    canonicalizedHeader: Buffer;
    signatureHeaderLine: string;
    dkimHeaderOpts: Record<string, string | number> | false;
  };
}

declare module 'mailauth/lib/dkim/body/index.js' {
  interface BodyHasher {
    update(chunk: Buffer | null, final?: boolean): void;
    digest(encoding: 'base64' | 'hex'): string;
  }

  /** A body canonicalizer + hasher; `maxBodyLength` false means no l= limit. */
  export function dkimBody(
    canonicalization: 'simple' | 'relaxed',
    algorithm: 'sha1' | 'sha256',
    maxBodyLength: number | false,
  ): BodyHasher;
}
