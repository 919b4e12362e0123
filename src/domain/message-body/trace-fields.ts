/** RFC 5322 date-time in UTC, e.g. `Fri, 27 Nov 2026 20:44:29 +0000`. */
export const rfc5322Date = (epochMs: number): string =>
  new Date(epochMs).toUTCString().replace('GMT', '+0000');

export interface ReceivedFields {
  readonly helo: string | null;
  readonly clientAddress: string;
  readonly byHost: string;
  /** RFC 3848: ESMTP, ESMTPS (TLS), ESMTPA (auth), ESMTPSA (both). */
  readonly tls: boolean;
  readonly authenticated: boolean;
  readonly id: string;
  readonly at: number;
}

export const receivedHeader = (f: ReceivedFields): string => {
  const protocol = `ESMTP${f.tls ? 'S' : ''}${f.authenticated ? 'A' : ''}`;
  const from = `${f.helo ?? 'unknown'} ([${f.clientAddress}])`;
  return `Received: from ${from}\r\n\tby ${f.byHost} (mailtrail) with ${protocol} id ${f.id};\r\n\t${rfc5322Date(f.at)}\r\n`;
};
