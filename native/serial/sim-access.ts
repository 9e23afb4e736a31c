/**
 * SIM access through a handset, as an APDU transport: AT+CSIM (27.007 §8.17, generic access: any
 * APDU) where the handset allows it, else AT+CRSM (§8.18, restricted access) for the file commands it
 * covers. The smart-card code (PKCS#15 reading) runs unchanged over this or over PC/SC.
 *
 * AT+CRSM cannot select; it addresses each command to a file id. So in CRSM mode a SELECT by file id
 * or path is remembered and answered 9000 locally, and a SELECT by AID answers 6A81 (function not
 * supported): PKCS#15 over a handset needs AT+CSIM.
 */
import { toHex, fromHex } from '../../main/notify/bytes.js';
import type { AtChannel } from './at.js';
import { parseCrsm } from './identity.js';

export interface ApduTransport {
  transmit(apdu: Uint8Array): Promise<Uint8Array>;
}

export class SimAccessError extends Error {}

export type SimAccessMode = 'csim' | 'crsm';

const SW = (sw1: number, sw2: number) => Uint8Array.of(sw1, sw2);

export class AtSimTransport implements ApduTransport {
  private selected?: { fileId: number; path: string };
  constructor(
    private readonly at: AtChannel,
    readonly mode: SimAccessMode = 'csim',
  ) {}

  /** CSIM when the handset takes it (probed with a STATUS APDU), else CRSM. */
  static async open(at: AtChannel): Promise<AtSimTransport> {
    const r = await at.exec('AT+CSIM=10,"80F2000000"');
    if (r.ok && r.lines.some((l) => l.toUpperCase().startsWith('+CSIM:'))) return new AtSimTransport(at, 'csim');
    // Some handsets only accept the UICC class byte.
    const u = await at.exec('AT+CSIM=10,"00F2000000"');
    if (u.ok && u.lines.some((l) => l.toUpperCase().startsWith('+CSIM:'))) return new AtSimTransport(at, 'csim');
    return new AtSimTransport(at, 'crsm');
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    if (apdu.length < 4) throw new SimAccessError(`APDU of ${apdu.length} bytes is shorter than its header`);
    return this.mode === 'csim' ? this.csim(apdu) : this.crsm(apdu);
  }

  private async csim(apdu: Uint8Array): Promise<Uint8Array> {
    const hex = toHex(apdu);
    const r = await this.at.exec(`AT+CSIM=${hex.length},"${hex}"`);
    if (!r.ok) throw new SimAccessError(`AT+CSIM: ${r.explanation}`);
    const line = r.lines.find((l) => l.toUpperCase().startsWith('+CSIM:'));
    const m = line && /^\+CSIM:\s*(\d+)\s*,\s*"?([0-9A-Fa-f]*)"?/i.exec(line);
    if (!m) throw new SimAccessError(`AT+CSIM: no +CSIM line in the answer (${r.lines.join(' | ') || 'empty'})`);
    const bytes = fromHex(m[2]!);
    if (!bytes || bytes.length < 2) throw new SimAccessError(`AT+CSIM: answer "${m[2]}" is not a response APDU`);
    if (Number(m[1]) !== m[2]!.length) throw new SimAccessError(`AT+CSIM: length ${m[1]} does not match ${m[2]!.length} hex digits`);
    return bytes;
  }

  private async crsm(apdu: Uint8Array): Promise<Uint8Array> {
    const [, ins, p1, p2] = apdu as unknown as [number, number, number, number];
    const lc = apdu.length > 5 ? apdu[4]! : 0;
    const data = apdu.length > 5 ? apdu.subarray(5, 5 + lc) : new Uint8Array();
    if (ins === 0xa4) {
      if (p1 === 0x04) return SW(0x6a, 0x81); // select by AID: not possible through +CRSM
      if (data.length < 2 || data.length % 2) return SW(0x6a, 0x87);
      const ids: string[] = [];
      for (let i = 0; i < data.length; i += 2) ids.push(toHex(data.subarray(i, i + 2)));
      const fileId = (data[data.length - 2]! << 8) | data[data.length - 1]!;
      // The path argument of +CRSM is the path of the file's parent, from MF (3F00).
      const parents = ids.slice(0, -1);
      const path = p1 === 0x08 || p1 === 0x09 ? ['3F00', ...parents].join('') : (this.selected?.path ?? '3F00');
      this.selected = { fileId, path };
      return SW(0x90, 0x00);
    }
    const codes: Record<number, number> = { 0xb0: 176, 0xb2: 178, 0xc0: 192, 0xd6: 214, 0xdc: 220, 0xf2: 242 };
    const command = codes[ins];
    if (command === undefined) return SW(0x6d, 0x00);
    if (!this.selected && command !== 242) return SW(0x69, 0x86); // no current EF
    const fid = this.selected?.fileId ?? 0x3f00;
    const le = apdu.length === 5 ? apdu[4]! : 0;
    let cmd = `AT+CRSM=${command},${fid},${p1},${p2},${command === 214 || command === 220 ? lc : le}`;
    if (command === 214 || command === 220) cmd += `,"${toHex(data)}"`;
    if (this.selected?.path && this.selected.path !== '3F00') cmd += `${command === 214 || command === 220 ? '' : ',""'},"${this.selected.path}"`;
    const r = await this.at.exec(cmd);
    if (!r.ok) throw new SimAccessError(`AT+CRSM: ${r.explanation}`);
    const c = r.lines.map(parseCrsm).find((x) => x);
    if (!c) throw new SimAccessError(`AT+CRSM: no readable +CRSM line in the answer (${r.lines.join(' | ') || 'empty'})`);
    const body = fromHex(c.data);
    // Odd hex digits are not bytes: refused, where they used to become an empty answer with the SW.
    if (!body) throw new SimAccessError(`AT+CRSM: response data "${c.data}" is not whole bytes (${r.lines.join(' | ')})`);
    const out = new Uint8Array(body.length + 2);
    out.set(body, 0);
    out[body.length] = c.sw1;
    out[body.length + 1] = c.sw2;
    return out;
  }
}
