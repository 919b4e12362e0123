import dns2 from 'dns2';

/** Records a test zone holds for one name. A name not in the zone is NXDOMAIN. */
export interface ZoneEntry {
  readonly MX?: ReadonlyArray<{ readonly exchange: string; readonly priority: number }>;
  readonly A?: readonly string[];
  readonly AAAA?: readonly string[];
  /** Each a whole record; longer than 255 octets, it goes out as several strings. */
  readonly TXT?: readonly string[];
  /** Every query for the name fails (SERVFAIL): a broken or unreachable zone. */
  readonly SERVFAIL?: boolean;
}

export type Zone = Record<string, ZoneEntry>;

const { Packet } = dns2;

/**
 * A real DNS server on loopback (UDP), answering from a zone the test controls: the relay
 * resolves through it exactly as it would through any resolver (`dns.servers`).
 */
export const startDnsServer = async (
  zone: Zone,
): Promise<{ address: string; close(): Promise<void> }> => {
  // The zone is read at each query: a test publishes or changes records by mutating it.
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const question = request.questions[0];
      if (!question) return send(response);
      const name = String(question.name).toLowerCase().replace(/\.$/, '');
      const entry = zone[name];
      if (!entry) {
        response.header.rcode = 3; // NXDOMAIN
        return send(response);
      }
      if (entry.SERVFAIL) {
        response.header.rcode = 2;
        return send(response);
      }
      const base = { name: question.name, class: Packet.CLASS.IN, ttl: 60 };
      // dns2's types want Resource instances; plain records are what its encoder reads.
      const answers = response.answers as unknown as object[];
      if (question.type === Packet.TYPE.MX)
        for (const mx of entry.MX ?? [])
          answers.push({
            ...base,
            type: Packet.TYPE.MX,
            exchange: mx.exchange,
            priority: mx.priority,
          });
      if (question.type === Packet.TYPE.A)
        for (const address of entry.A ?? [])
          answers.push({ ...base, type: Packet.TYPE.A, address });
      if (question.type === Packet.TYPE.AAAA)
        for (const address of entry.AAAA ?? [])
          answers.push({ ...base, type: Packet.TYPE.AAAA, address });
      if (question.type === Packet.TYPE.TXT)
        for (const text of entry.TXT ?? [])
          answers.push({ ...base, type: Packet.TYPE.TXT, data: text.match(/.{1,255}/gs) ?? [''] });
      send(response);
    },
  });
  const listening = new Promise<void>((resolve) => server.on('listening', () => resolve()));
  server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  await listening;
  const { port } = server.addresses().udp as { port: number };
  return { address: `127.0.0.1:${port}`, close: () => server.close() };
};
