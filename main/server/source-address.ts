/**
 * The source address a per-address limit is keyed by. An IPv4 address is itself (an IPv4-mapped
 * IPv6 address is its IPv4 form); an IPv6 address counts as its /64, because one host commonly holds
 * a whole /64 and could otherwise give every guess an address of its own.
 */

/** `remote` as the listener records it: `ADDRESS:PORT` (IPv6 unbracketed), or `?:?` when unknown. */
export function sourceAddressKey(remote: string): string {
  // Asked several times per request, and a keep-alive connection sends many from one `remote`.
  if (remote === last.remote) return last.key;
  const key = addressKeyOf(remote);
  last = { remote, key };
  return key;
}

let last = { remote: '', key: '' };

function addressKeyOf(remote: string): string {
  const cut = remote.lastIndexOf(':');
  let addr = cut > 0 ? remote.slice(0, cut) : remote;
  const zone = addr.indexOf('%');
  if (zone >= 0) addr = addr.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(addr);
  if (mapped) return mapped[1]!;
  if (!addr.includes(':')) return addr || '?';
  const groups = expandIpv6(addr);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : addr;
}

/** The eight 16-bit groups of an IPv6 address (lowercase, no leading zeros), or undefined when it is not one. */
function expandIpv6(addr: string): string[] | undefined {
  const halves = addr.toLowerCase().split('::');
  if (halves.length > 2) return undefined;
  const part = (s: string) => (s === '' ? [] : s.split(':'));
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  // A trailing dotted IPv4 part (::ffff:1.2.3.4 forms other than the mapped one) counts as two groups.
  const last = tail.length > 0 ? tail : head;
  if (last.length > 0 && last[last.length - 1]!.includes('.')) {
    const v4 = last.pop()!.split('.').map(Number);
    if (v4.length !== 4 || v4.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return undefined;
    last.push(((v4[0]! << 8) | v4[1]!).toString(16), ((v4[2]! << 8) | v4[3]!).toString(16));
  }
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => Number.parseInt(g, 16).toString(16));
}
