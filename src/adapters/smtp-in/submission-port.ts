/** What the SMTP listener needs from the application: check credentials, take a message. */
export interface AuthenticatedCredential {
  readonly id: string;
  readonly name: string;
}

export interface Submission {
  readonly envelope: {
    readonly from: string;
    readonly to: ReadonlyArray<{ readonly address: string; readonly orcpt: string | null }>;
    readonly envId: string | null;
  };
  /** Canonical CRLF content: line endings already checked or normalised. */
  readonly body: Buffer;
  readonly client: {
    readonly address: string;
    readonly helo: string | null;
    readonly tls: boolean;
  };
  readonly credential: AuthenticatedCredential | null;
}

/**
 * A submission the application refuses for what it says, not for a failure: the client
 * must not retry it as it is. SMTP answers 550 5.7.1; HTTP fronts map it to their errors.
 */
export class SubmissionRefused extends Error {
  constructor(
    readonly code:
      | 'SenderNotAuthorized'
      | 'UnknownPool'
      | 'RecipientNotAllowed'
      | 'HeaderTooLarge'
      | 'OverVolumeCap',
    message: string,
  ) {
    super(message);
    this.name = `SubmissionRefused[${code}]`;
  }
}

/**
 * A submission the credential may not make now, but may later: a volume cap is reached
 * (until `retryAt`) or the credential is paused (until an operator resumes it). SMTP
 * answers 451/452 4.7.1; HTTP fronts answer their provider's rate-limit error.
 */
export class SubmissionDeferred extends Error {
  constructor(
    readonly code: 'VolumeLimitReached' | 'CredentialPaused',
    message: string,
    /** When it would fit again (epoch ms); null: not by waiting. */
    readonly retryAt: number | null,
    /** The cap's measure: too many messages, or too many recipients. */
    readonly measure: 'messages' | 'recipients' | null = null,
  ) {
    super(message);
    this.name = `SubmissionDeferred[${code}]`;
  }
}

/** Why a submission, or one step of it, cannot go on. */
export type SubmissionObjection = SubmissionRefused | SubmissionDeferred;

/**
 * An AUTH answer: the credential; `invalid` for a wrong username or password (or a client
 * the credential does not allow, which must look the same); `throttled` when too many
 * logins failed and attempts are refused for a while.
 */
export type AuthResult =
  | { readonly ok: true; readonly credential: AuthenticatedCredential }
  | { readonly ok: false; readonly reason: 'invalid' }
  | { readonly ok: false; readonly reason: 'throttled'; readonly message: string };

export interface SubmissionPort {
  /** Why a connection from this address is refused at once (a ban), or null. */
  connectionRefusal(clientAddress: string): string | null;
  authenticate(username: string, password: string, clientAddress: string): Promise<AuthResult>;
  /** Why this credential may not start a message from this address now, or null. */
  checkMailFrom(credential: AuthenticatedCredential, address: string): SubmissionObjection | null;
  /**
   * Why this recipient cannot be added, `count` being the transaction's recipients with it;
   * credential null: a trusted network's client.
   */
  checkRecipient(
    credential: AuthenticatedCredential | null,
    address: string,
    count: number,
  ): SubmissionObjection | null;
  /**
   * Resolves once the message is durably stored; only then may the client hear 250.
   * Rejects with a SubmissionObjection when the message is not acceptable (now).
   */
  accept(submission: Submission): Promise<{ readonly messageId: string }>;
}
