/**
 * Answer-To-Reset parsing (ISO/IEC 7816-3 §8.2): TS, T0, the interface bytes TAi/TBi/TCi/TDi,
 * the historical bytes and the check byte TCK. Pure; used for the reader list, card events and the
 * virtual card's own ATR.
 */
import { hex } from './apdu.js';

export interface InterfaceBytes {
  /** i in TAi/TBi/TCi/TDi (1-based). */
  index: number;
  ta?: number;
  tb?: number;
  tc?: number;
  td?: number;
  /** The protocol TDi announces for the next group (T = TDi & 0x0F). */
  protocol?: number;
}

export interface Atr {
  bytes: Uint8Array;
  /** 3B direct convention, 3F inverse. */
  convention: 'direct' | 'inverse' | 'invalid';
  /** Protocols offered (T=0 when no TD1). */
  protocols: number[];
  interfaceBytes: InterfaceBytes[];
  historical: Uint8Array;
  /** TA1 = Fi/Di, when present. */
  fiDi?: { fi: number; di: number; fMax: number };
  /** Check byte; present unless only T=0 is offered. */
  tck?: { value: number; valid: boolean };
  /** Defects found (length mismatch, bad TCK ...). An empty list means the ATR is well formed. */
  problems: string[];
}

const FI = [372, 372, 558, 744, 1116, 1488, 1860, 0, 0, 512, 768, 1024, 1536, 2048, 0, 0];
const FMAX = [4, 5, 6, 8, 12, 16, 20, 0, 0, 5, 7.5, 10, 15, 20, 0, 0];
const DI = [0, 1, 2, 4, 8, 16, 32, 64, 12, 20, 0, 0, 0, 0, 0, 0];

export function parseAtr(bytes: Uint8Array): Atr {
  const problems: string[] = [];
  const atr: Atr = { bytes: bytes.slice(), convention: 'invalid', protocols: [], interfaceBytes: [], historical: new Uint8Array(0), problems };
  if (bytes.length < 2) {
    problems.push(`ATR of ${bytes.length} byte(s): at least TS and T0 are needed`);
    return atr;
  }
  atr.convention = bytes[0] === 0x3b ? 'direct' : bytes[0] === 0x3f ? 'inverse' : 'invalid';
  if (atr.convention === 'invalid') problems.push(`TS ${hex([bytes[0]!])} is neither 3B (direct) nor 3F (inverse)`);
  const t0 = bytes[1]!;
  const k = t0 & 0x0f;
  let y = t0 >> 4;
  let i = 2;
  let index = 1;
  const protocols = new Set<number>();
  for (;;) {
    const g: InterfaceBytes = { index };
    const take = (): number | undefined => {
      if (i >= bytes.length) {
        problems.push(`ATR ends inside the interface bytes of group ${index}`);
        return undefined;
      }
      return bytes[i++]!;
    };
    if (y & 1) { const v = take(); if (v !== undefined) g.ta = v; }
    if (y & 2) { const v = take(); if (v !== undefined) g.tb = v; }
    if (y & 4) { const v = take(); if (v !== undefined) g.tc = v; }
    if (y & 8) { const v = take(); if (v !== undefined) { g.td = v; g.protocol = v & 0x0f; protocols.add(v & 0x0f); } }
    atr.interfaceBytes.push(g);
    if (g.td === undefined) break;
    y = g.td >> 4;
    index++;
  }
  const ta1 = atr.interfaceBytes[0]?.ta;
  if (ta1 !== undefined) atr.fiDi = { fi: FI[ta1 >> 4]!, di: DI[ta1 & 0x0f]!, fMax: FMAX[ta1 >> 4]! };
  atr.protocols = protocols.size === 0 ? [0] : [...protocols].sort((a, b) => a - b);
  // TD1 announcing T=15 is global bytes, not a protocol.
  atr.protocols = atr.protocols.filter((p) => p !== 15);
  if (atr.protocols.length === 0) atr.protocols = [0];
  const needTck = [...protocols].some((p) => p !== 0);
  const histEnd = i + k;
  if (histEnd > bytes.length) {
    problems.push(`T0 announces ${k} historical bytes, only ${Math.max(0, bytes.length - i)} follow`);
    atr.historical = bytes.slice(i);
    return atr;
  }
  atr.historical = bytes.slice(i, histEnd);
  if (needTck) {
    if (histEnd >= bytes.length) problems.push('TCK missing (required when a protocol other than T=0 is offered)');
    else {
      let x = 0;
      for (let j = 1; j <= histEnd; j++) x ^= bytes[j]!;
      atr.tck = { value: bytes[histEnd]!, valid: x === 0 };
      if (x !== 0) problems.push(`TCK ${hex([bytes[histEnd]!])} is wrong (XOR of T0..TCK is ${hex([x])}, must be 00)`);
      if (histEnd + 1 < bytes.length) problems.push(`${bytes.length - histEnd - 1} byte(s) after TCK`);
    }
  } else if (histEnd < bytes.length) {
    problems.push(`${bytes.length - histEnd} byte(s) after the historical bytes (no TCK with T=0 only)`);
  }
  return atr;
}

/** The TCK making `withoutTck` (TS..last historical byte) a valid ATR. */
export function computeTck(withoutTck: Uint8Array): number {
  let x = 0;
  for (let j = 1; j < withoutTck.length; j++) x ^= withoutTck[j]!;
  return x;
}

/** One line: `3B9F..  T=0,T=1  Fi=372 Di=1  historical 80 31 ..`. */
export function describeAtr(a: Atr): string {
  const parts = [`protocols ${a.protocols.map((p) => `T=${p}`).join(',')}`];
  if (a.fiDi) parts.push(`Fi=${a.fiDi.fi} Di=${a.fiDi.di}`);
  if (a.historical.length > 0) {
    const printable = [...a.historical].every((c) => c >= 0x20 && c < 0x7f);
    parts.push(`historical ${hex(a.historical, ' ')}${printable ? ` ("${String.fromCharCode(...a.historical)}")` : ''}`);
  }
  if (a.tck) parts.push(`TCK ${a.tck.valid ? 'ok' : 'WRONG'}`);
  if (a.problems.length > 0) parts.push(`problems: ${a.problems.join('; ')}`);
  return parts.join(', ');
}
