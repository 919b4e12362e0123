import type { AttemptResult } from '../message/decider.js';

/** One SMTP transaction's worth of work: a message to some recipients at one domain. */
export interface DeliveryJob {
  readonly messageId: string;
  readonly domain: string;
  /** '' for the null reverse-path. */
  readonly from: string;
  readonly recipients: readonly string[];
  readonly body: Uint8Array;
  /** The destination site and its shaping; without it, one site per domain, no limits. */
  readonly site?: DeliverySite;
  /** The egress source to send from; without it, the deliverer's own address and name. */
  readonly source?: EgressSource;
  /** The message goes over TLS or not at all, whatever the site's TLS policy. */
  readonly requireTls?: boolean;
  /** Where TLS is required, only with a certificate valid for the MX host's name. */
  readonly verifyTls?: boolean;
}

export interface EgressSource {
  readonly name: string;
  readonly address: string;
  readonly ehlo: string;
}

export interface DeliverySite {
  /** Connections are pooled per site: all domains of one provider share them. */
  readonly key: string;
  readonly maxConnections: number;
  readonly maxMessagesPerConnection: number;
  readonly tls: 'opportunistic' | 'required' | 'off';
  /** Waits for the site's connection rate before a new connection is opened. */
  readonly beforeConnect?: () => Promise<void>;
}

/**
 * The outbound side. It never throws for the remote's sake: every recipient gets an
 * AttemptResult, with a reply synthesised from the failure when the remote gave none.
 */
export interface Deliverer {
  deliver(job: DeliveryJob): Promise<readonly AttemptResult[]>;
  /**
   * Ends every attempt under way at once, in mid-transaction too, for a stop that cannot
   * wait: each rejects with AttemptAbandoned, and from then on every new one does. Nothing
   * of an abandoned attempt is to be recorded, so its recipients stay due; one cut after
   * its final dot may have been delivered, and then is delivered twice (as after kill -9).
   */
  abandon(): void;
  close(): Promise<void>;
}

/** The attempt was cut short by `abandon()`: there is no outcome to record. */
export class AttemptAbandoned extends Error {
  readonly code = 'AttemptAbandoned';
  constructor() {
    super('the delivery attempt was abandoned: the relay is stopping');
  }
}
