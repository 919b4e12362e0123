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

export interface SubmissionPort {
  authenticate(username: string, password: string): Promise<AuthenticatedCredential | null>;
  /** Resolves once the message is durably stored; only then may the client hear 250. */
  accept(submission: Submission): Promise<{ readonly messageId: string }>;
}
