import { encode as base64Encode, wrap as base64Wrap } from 'nodemailer/lib/base64/index.js';
import type MimeNode from 'nodemailer/lib/mime-node/index.js';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp/index.js';

// What MimeNode's encoder streams wrap at by default (RFC 2045 §6.7, §6.8).
const LINE_LENGTH = 76;

/** The parts of a node that only MimeNode's own streaming can write. */
interface StreamOnly {
  readonly _raw?: unknown;
  readonly _transforms?: readonly unknown[];
  readonly _processFuncs?: readonly unknown[];
}

const inMemory = (content: MimeNode['content']): content is string | Buffer =>
  typeof content === 'string' || Buffer.isBuffer(content);

/**
 * Appends one node and its children to `out` as MimeNode.stream() writes them: the header
 * block, the content in its transfer encoding, then each child between boundary lines.
 * False when a node holds something that has to be read (a stream, a file, a URL, raw
 * source, transforms) or quoted-printable outside text, which only the encoder stream
 * writes (a lone CR or LF there is data).
 */
const writeNode = (node: MimeNode, out: Buffer[]): boolean => {
  const streamOnly = node as unknown as StreamOnly;
  if (streamOnly._raw || streamOnly._transforms?.length || streamOnly._processFuncs?.length)
    return false;
  const content = node.content;
  if (content && !inMemory(content)) return false;
  out.push(Buffer.from(`${node.buildHeaders()}\r\n\r\n`));
  if (content) {
    // buildHeaders() decided it (getTransferEncoding(), which scans the content) and wrote
    // it down; stream() decides it again.
    const encoding = String(node.getHeader('Content-Transfer-Encoding') ?? '');
    if (encoding === 'quoted-printable') {
      if (!/^text\//i.test(node.contentType ?? '')) return false;
      out.push(Buffer.from(qpWrap(qpEncode(content), LINE_LENGTH), 'latin1'));
    } else if (encoding === 'base64') {
      out.push(Buffer.from(base64Wrap(base64Encode(content), LINE_LENGTH), 'latin1'));
    } else {
      out.push(typeof content === 'string' ? Buffer.from(content) : content);
    }
  }
  if (!node.multipart) return true;
  for (const [i, child] of node.childNodes.entries()) {
    out.push(Buffer.from(`${i > 0 ? '\r\n' : ''}--${node.boundary}\r\n`));
    if (!writeNode(child, out)) return false;
  }
  out.push(Buffer.from(`\r\n--${node.boundary}--\r\n`));
  return true;
};

/**
 * A compiled MailComposer tree as the bytes MimeNode.build() gives for it, written in one
 * synchronous pass with nodemailer's own header builder and encoders. build() drives the
 * same steps through a stream, a pipeline and a setImmediate per part, which under load
 * cost more than everything else an API submission does on the event loop. The bytes are
 * checked against build() itself (mime-tree-bytes.test.ts). Null when the tree holds
 * anything build() must read or stream: the caller builds that one with build().
 */
export const mimeTreeBytes = (root: MimeNode): Buffer | null => {
  if (root.newline) return null;
  const out: Buffer[] = [];
  if (!writeNode(root, out)) return null;
  // build()'s last stage (LastNewline): the message ends with a line break.
  const last = out.at(-1)?.at(-1);
  if (last === 0x0d) out.push(Buffer.from('\n'));
  else if (last !== 0x0a) out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
};
