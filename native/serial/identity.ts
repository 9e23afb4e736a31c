/**
 * Who is on the other end of the port: manufacturer, model, revision (27.007 +CGMI/+CGMM/+CGMR),
 * IMEI (+CGSN), IMSI (+CIMI), ICCID (vendor commands, then EF_ICCID through +CRSM). A query the
 * handset refuses is recorded with its reason and the rest still run; a vanished port stops all.
 */
import { AtCommandError, AtTimeoutError, type AtChannel, type AtResponse } from './at.js';

export interface HandsetIdentity {
  info?: string;
  manufacturer?: string;
  model?: string;
  revision?: string;
  imei?: string;
  /** false when the IMEI's Luhn check digit is wrong. */
  imeiLuhnOk?: boolean;
  imsi?: string;
  iccid?: string;
  /** Which command gave the ICCID. */
  iccidSource?: string;
  /** Field -> why it could not be read (the command and its final result in words). */
  errors: Record<string, string>;
}

/** `+CGMI: "Quectel"` / `"Quectel"` / `Quectel` -> `Quectel`. */
export function stripInfo(line: string, prefix?: string): string {
  let v = line.trim();
  if (prefix && v.toUpperCase().startsWith(`${prefix.toUpperCase()}:`)) v = v.slice(prefix.length + 1).trim();
  else v = v.replace(/^[+^][A-Z0-9]+:\s*/i, '');
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  return v;
}

export function luhnOk(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** EF_ICCID bytes (nibble-swapped BCD, F padded) -> digits. */
export function iccidFromEf(hex: string): string {
  let out = '';
  for (let i = 0; i + 1 < hex.length; i += 2) out += hex[i + 1]! + hex[i]!;
  return out.replace(/[fF]+$/, '');
}

/** `+CRSM: 144,0,"98..."` -> { sw1, sw2, data }. */
export function parseCrsm(line: string): { sw1: number; sw2: number; data: string } | undefined {
  const m = /^\+CRSM:\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*"?([0-9A-Fa-f]*)"?)?\s*$/.exec(line.trim());
  if (!m) return undefined;
  const sw1 = Number(m[1]);
  const sw2 = Number(m[2]);
  // Status bytes are bytes: `+CRSM: 400,0` is not an answer (as a byte, 400 would read as 0x90, success).
  if (sw1 > 0xff || sw2 > 0xff) return undefined;
  return { sw1, sw2, data: (m[3] ?? '').toUpperCase() };
}

/** EF_ICCID (2FE2) read through restricted SIM access: READ BINARY (176), 10 bytes. */
export const CRSM_READ_ICCID = 'AT+CRSM=176,12258,0,0,10';

function firstInfo(r: AtResponse): string | undefined {
  const prefix = /^AT([+^][A-Z0-9]+)/i.exec(r.command)?.[1];
  const line = r.lines.find((l) => l.trim() !== '');
  return line === undefined ? undefined : stripInfo(line, prefix);
}

export async function identify(at: AtChannel): Promise<HandsetIdentity> {
  const id: HandsetIdentity = { errors: {} };
  const ask = async (field: string, command: string): Promise<AtResponse | undefined> => {
    try {
      const r = await at.exec(command);
      if (!r.ok) {
        id.errors[field] = `${command}: ${r.explanation}`;
        return undefined;
      }
      return r;
    } catch (e) {
      if (e instanceof AtTimeoutError) {
        id.errors[field] = e.message;
        return undefined;
      }
      throw e; // port gone: nothing more to ask
    }
  };
  const info = await ask('info', 'ATI');
  if (info && info.lines.length) id.info = info.lines.join(' / ');
  for (const [field, cmd] of [
    ['manufacturer', 'AT+CGMI'],
    ['model', 'AT+CGMM'],
    ['revision', 'AT+CGMR'],
  ] as const) {
    const r = await ask(field, cmd);
    const v = r && firstInfo(r);
    if (v) id[field] = v;
  }
  const imei = await ask('imei', 'AT+CGSN');
  const imeiText = imei && firstInfo(imei);
  if (imeiText) {
    id.imei = imeiText;
    if (/^\d{15}$/.test(imeiText)) id.imeiLuhnOk = luhnOk(imeiText);
  }
  const imsi = await ask('imsi', 'AT+CIMI');
  const imsiText = imsi && firstInfo(imsi);
  if (imsiText) id.imsi = imsiText;
  await readIccid(at, id);
  return id;
}

/**
 * The IMSI with AT+CIMI (the key of an OTA bootstrap's NETWPIN / USERNETWPIN MAC): the digits as the
 * modem gave them (quotes and a +CIMI: prefix removed, not validated), or why it could not be read.
 * Shared by `dmw push bootstrap --imsi-port` and the Serial view.
 */
export async function readImsi(at: AtChannel): Promise<{ ok: true; imsi: string } | { ok: false; error: string }> {
  const r = await at.exec('AT+CIMI');
  if (!r.ok) return { ok: false, error: `AT+CIMI: ${r.explanation}` };
  return { ok: true, imsi: (r.lines.find((l) => l.trim() !== '') ?? '').replace(/^\+CIMI:\s*/i, '').replace(/"/g, '').trim() };
}

async function readIccid(at: AtChannel, id: HandsetIdentity): Promise<void> {
  const tried: string[] = [];
  for (const cmd of ['AT+CCID', 'AT+ICCID', 'AT+QCCID', 'AT^ICCID?']) {
    try {
      const r = await at.exec(cmd);
      const v = r.ok ? firstInfo(r) : undefined;
      if (v && /^[0-9A-Fa-f]{18,22}$/.test(v)) {
        id.iccid = v.replace(/[fF]+$/, '');
        id.iccidSource = cmd;
        return;
      }
      tried.push(`${cmd}: ${r.ok ? 'no ICCID in the answer' : r.explanation}`);
    } catch (e) {
      if (!(e instanceof AtTimeoutError)) throw e;
      tried.push(e.message);
    }
  }
  try {
    const r = await at.exec(CRSM_READ_ICCID);
    const c = r.ok ? r.lines.map(parseCrsm).find((x) => x) : undefined;
    if (c && c.sw1 === 0x90 && c.data) {
      id.iccid = iccidFromEf(c.data);
      id.iccidSource = CRSM_READ_ICCID;
      return;
    }
    tried.push(`${CRSM_READ_ICCID}: ${r.ok ? (c ? `SW ${c.sw1.toString(16)}${c.sw2.toString(16).padStart(2, '0')}` : 'no +CRSM line') : r.explanation}`);
  } catch (e) {
    if (!(e instanceof AtTimeoutError)) throw e;
    tried.push(e.message);
  }
  id.errors.iccid = tried.join('; ');
}

export { AtCommandError };
