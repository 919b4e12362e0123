// mx-connect ships no types; this declares the part of its API the relay uses.
declare module 'mx-connect' {
  import type { Socket } from 'node:net';

  interface MxEntry {
    exchange: string;
    priority?: number;
    A?: string[];
    AAAA?: string[];
  }

  interface MxConnectOptions {
    target: string;
    port?: number;
    maxConnectTime?: number;
    mx?: MxEntry[] | string;
    localAddress?: string;
    localHostname?: string;
    /** Addresses not to connect to, whichever host they belong to. */
    ignoreMXHosts?: string[];
    dnsOptions?: {
      blockLocalAddresses?: boolean;
      ignoreIPv6?: boolean;
      resolveRecords?: (domain: string, type: string) => unknown;
    };
  }

  interface MxConnection {
    socket: Socket;
    hostname: string;
    host: string;
    port: number;
    localAddress?: string;
    localHostname?: string;
  }

  function mxConnect(options: MxConnectOptions): Promise<MxConnection>;
  export default mxConnect;
}

// The address check mx-connect applies to MX hosts, reused for the MTA-STS policy host.
declare module 'mx-connect/lib/tools.js' {
  /** Why the relay may not connect to this address, or false when it may. */
  export function isInvalid(
    delivery: { dnsOptions?: { blockLocalAddresses?: boolean } },
    ip: string,
  ): string | false;
}
