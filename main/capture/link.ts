/**
 * Link layers: the IP packet inside a captured frame, for the link types captures of DM traffic
 * come in (Ethernet with VLAN tags, Linux cooked SLL and SLL2, BSD loopback/null, raw IP).
 * Anything else, or a frame that is not IP, is null: it is not a DM packet. Pure.
 */

export const LINKTYPE = { NULL: 0, ETHERNET: 1, RAW: 101, LOOP: 108, LINUX_SLL: 113, IPV4: 228, IPV6: 229, LINUX_SLL2: 276 } as const;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const VLAN_TAGS = new Set([0x8100, 0x88a8, 0x9100]);

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function byEthertype(type: number, payload: Uint8Array): Uint8Array | null {
  return type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6 ? payload : null;
}

/** BSD address families for IPv6 differ by OS (24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS). */
function byFamily(family: number, payload: Uint8Array): Uint8Array | null {
  return family === 2 || family === 24 || family === 28 || family === 30 ? payload : null;
}

export function ipPayloadOfFrame(linkType: number, f: Uint8Array): Uint8Array | null {
  switch (linkType) {
    case LINKTYPE.ETHERNET: {
      if (f.length < 14) return null;
      let off = 12;
      let type = u16(f, off);
      // Up to two VLAN tags (802.1Q, QinQ).
      for (let i = 0; i < 2 && VLAN_TAGS.has(type) && off + 6 <= f.length; i++) {
        off += 4;
        type = u16(f, off);
      }
      return byEthertype(type, f.subarray(off + 2));
    }
    case LINKTYPE.LINUX_SLL:
      return f.length < 16 ? null : byEthertype(u16(f, 14), f.subarray(16));
    case LINKTYPE.LINUX_SLL2:
      return f.length < 20 ? null : byEthertype(u16(f, 0), f.subarray(20));
    case LINKTYPE.NULL: {
      // The family is in the capturing host's byte order.
      if (f.length < 4) return null;
      const le = f[0]! | (f[1]! << 8) | (f[2]! << 16) | (f[3]! << 24);
      const be = (f[0]! << 24) | (f[1]! << 16) | (f[2]! << 8) | f[3]!;
      return byFamily(le, f.subarray(4)) ?? byFamily(be, f.subarray(4));
    }
    case LINKTYPE.LOOP:
      return f.length < 4 ? null : byFamily(((f[0]! << 24) | (f[1]! << 16) | (f[2]! << 8) | f[3]!) >>> 0, f.subarray(4));
    case LINKTYPE.RAW:
    case LINKTYPE.IPV4:
    case LINKTYPE.IPV6:
      return f;
    default:
      return null;
  }
}
