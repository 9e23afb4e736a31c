/**
 * Realistic DevIds for virtual handsets: `IMEI:` + 15 digits, the last a Luhn check digit over the
 * first 14 (TAC 8 digits + serial 6), as GSMA IMEIs are. The TACs are in the 35xxxxxx range
 * (reporting body 35, the common one for handsets) but are random: they name no real model.
 */
import { randomInt } from 'node:crypto';
import { imeiFromBody } from '../tree/mos.js';

/** True for `IMEI:` + 15 digits whose last digit is the Luhn check digit of the first 14. */
export function isValidImeiDevId(devId: string): boolean {
  const m = /^IMEI:(\d{15})$/.exec(devId);
  return m !== null && imeiFromBody(m[1]!.slice(0, 14)) === m[1];
}

/** A random `IMEI:` DevId. `taken` (if given) is checked so a pool never hands out one twice. */
export function randomImeiDevId(taken?: ReadonlySet<string>, random: (max: number) => number = randomInt): string {
  for (let i = 0; i < 1000; i++) {
    let body = '35';
    for (let d = 0; d < 12; d++) body += String(random(10));
    const id = `IMEI:${imeiFromBody(body)}`;
    if (!taken?.has(id)) return id;
  }
  throw new Error('could not find an unused IMEI in 1000 tries');
}
