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
    readonly code: 'SenderNotAuthorized' | 'UnknownPool',
    message: string,
  ) {
    super(message);
    this.name = `SubmissionRefused[${code}]`;
  }
}

export interface SubmissionPort {
  authenticate(username: string, password: string): Promise<AuthenticatedCredential | null>;
  /** Why this credential may not use this MAIL FROM address, or null when it may. */
  checkMailFrom(credential: AuthenticatedCredential, address: string): string | null;
  /**
   * Resolves once the message is durably stored; only then may the client hear 250.
   * Rejects with SubmissionRefused when the message itself is not acceptable.
   */
  accept(submission: Submission): Promise<{ readonly messageId: string }>;
}
