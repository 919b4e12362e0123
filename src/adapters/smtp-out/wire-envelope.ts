import { asciiAddress } from '../../domain/address/address.js';

/** The envelope as it goes to one server, each recipient by the address the job knows. */
export interface WireEnvelope {
  readonly from: string;
  readonly to: ReadonlyArray<{ readonly wire: string; readonly recipient: string }>;
  /** Recipients that cannot go to this server at all. */
  readonly unsendable: readonly string[];
}

/**
 * RFC 6531 §3.2: to a server that does not offer SMTPUTF8, every address goes in ASCII (its
 * domain as an A-label); one whose local part is beyond ASCII cannot go, nor can anything
 * from such a sender.
 */
export const wireEnvelope = (
  from: string,
  recipients: readonly string[],
  smtpUtf8: boolean,
): WireEnvelope => {
  if (smtpUtf8)
    return { from, to: recipients.map((r) => ({ wire: r, recipient: r })), unsendable: [] };
  const sender = asciiAddress(from);
  if (sender === null) return { from, to: [], unsendable: recipients };
  const to: Array<{ wire: string; recipient: string }> = [];
  const unsendable: string[] = [];
  for (const recipient of recipients) {
    const wire = asciiAddress(recipient);
    if (wire === null) unsendable.push(recipient);
    else to.push({ wire, recipient });
  }
  return { from: sender, to, unsendable };
};
