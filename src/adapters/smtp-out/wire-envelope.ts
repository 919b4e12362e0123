import { asciiAddress } from '../../domain/address/address.js';

/** The envelope as it goes to one server. */
export interface WireEnvelope {
  readonly from: string;
  /**
   * Each address once as it goes on the wire, with the recipients the job knows by it
   * (`a@bücher.de` and `a@xn--bcher-kva.de` are one mailbox: one RCPT, one outcome for both).
   */
  readonly to: ReadonlyArray<{ readonly wire: string; readonly recipients: readonly string[] }>;
  /** Recipients that cannot go to this server at all, and the address that needs SMTPUTF8. */
  readonly unsendable: ReadonlyArray<{ readonly recipient: string; readonly needs: string }>;
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
  const sender = smtpUtf8 ? from : asciiAddress(from);
  if (sender === null)
    return {
      from,
      to: [],
      unsendable: recipients.map((recipient) => ({ recipient, needs: from })),
    };
  const to = new Map<string, string[]>();
  const unsendable: Array<{ recipient: string; needs: string }> = [];
  for (const recipient of recipients) {
    const wire = smtpUtf8 ? recipient : asciiAddress(recipient);
    if (wire === null) unsendable.push({ recipient, needs: recipient });
    else to.set(wire, [...(to.get(wire) ?? []), recipient]);
  }
  return {
    from: sender,
    to: [...to].map(([wire, known]) => ({ wire, recipients: known })),
    unsendable,
  };
};
