import {
  type AuthenticatedCredential,
  type SubmissionObjection,
  SubmissionRefused,
} from '../../adapters/smtp-in/submission-port.js';
import { isAddressLiteral } from '../../domain/address/address.js';
import type { CredentialGate } from '../abuse/credential-gate.js';
import type { SenderAuthorization } from './sender-authorization.js';

/**
 * What SMTP asks before the data: at MAIL FROM, whether the credential may send as that
 * address and may send now; at RCPT TO, whether the recipient is one we relay to and one
 * more fits under its caps. Acceptance checks the sender and the caps again, for every
 * front door (the HTTP APIs refuse address literals when they parse addresses).
 */
export const createSubmissionChecks = (deps: {
  readonly authorization: Pick<SenderAuthorization, 'checkMailFrom'>;
  readonly gate: Pick<CredentialGate, 'objection'>;
}) => ({
  checkMailFrom: (
    credential: AuthenticatedCredential,
    address: string,
  ): SubmissionObjection | null => {
    const refusal = deps.authorization.checkMailFrom(credential, address);
    if (refusal) return new SubmissionRefused('SenderNotAuthorized', refusal);
    return deps.gate.objection(credential, { messages: 1, recipients: 0 });
  },
  checkRecipient: (
    credential: AuthenticatedCredential | null,
    address: string,
    count: number,
  ): SubmissionObjection | null => {
    // Relaying to an IP literal would let a client aim us at any host, loopback and private
    // networks included; recipients are reached through their domain's MX only.
    if (isAddressLiteral(address))
      return new SubmissionRefused(
        'RecipientNotAllowed',
        `Recipient address rejected: <${address}> names a host by address; mail is relayed to domains only`,
      );
    return credential ? deps.gate.objection(credential, { messages: 1, recipients: count }) : null;
  },
});
