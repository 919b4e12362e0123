import ipaddr from 'ipaddr.js';

export type NetworkMatcher = (address: string) => boolean;

/** Whether the text is a network in CIDR form: `127.0.0.1/32`, `2001:db8::/32`. */
export const isCidr = (text: string): boolean => {
  try {
    ipaddr.parseCIDR(text);
    return true;
  } catch {
    return false;
  }
};

/** Matches client addresses against CIDR networks; IPv4-mapped IPv6 counts as IPv4. */
export const networkMatcher = (cidrs: readonly string[]): NetworkMatcher => {
  const networks = cidrs.map((c) => ipaddr.parseCIDR(c));
  if (networks.length === 0) return () => false;
  return (address) => {
    let ip: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      ip = ipaddr.process(address);
    } catch {
      return false;
    }
    return networks.some(
      ([net, bits]) => ip.kind() === net.kind() && ip.match([net, bits] as never),
    );
  };
};
