// ng.allow: the control sources a relay takes commands from (rtpengine has none; its port is meant to be firewalled).
import { BlockList, isIP } from 'node:net';

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 client behind a dual-stack socket. */
const normal = (address: string): string =>
  address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;

/** A check built from addresses and CIDR blocks (validated by the configuration's loader). */
export function allowList(entries: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, bits] = entry.split('/') as [string, string?];
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return (address) => {
    const a = normal(address);
    return list.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
  };
}
