/**
 * Gammu (Debian python3-gammu, libGammu's PDU codec) as an independent oracle: it decodes the PDUs we
 * build, and we decode the PDUs it builds, over random payloads. In CI a missing python3-gammu fails
 * the suite (.ci/run installs it); on a developer machine it is skipped with the reason printed.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../main/notify/bytes.js';
import { decodeSmsPdu, encodeSubmit } from '../../main/notify/sms.js';
import { buildWapPushSms } from '../../main/notify/wap-push.js';

// Debian's interpreter, where apt puts python3-gammu (a pyenv python3 on PATH would not see it).
const PYTHON = '/usr/bin/python3';

function haveGammu(): boolean {
  const ok = spawnSync(PYTHON, ['-c', 'import gammu'], { stdio: 'ignore' }).status === 0;
  if (ok) return true;
  const why = 'sms-gammu-oracle: missing python3-gammu (installed by .ci/run)';
  if (process.env.CI) throw new Error(`${why}; CI must not skip this suite`);
  console.warn(`SKIP ${why}`);
  return false;
}

function gammu(script: string, input: unknown): unknown {
  const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`gammu oracle failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const DECODE = `
import gammu, json, sys, binascii
out = []
for h in json.load(sys.stdin):
    d = gammu.DecodePDU(binascii.unhexlify(h), SMSC=True)
    text = d['Text']
    out.append({'number': d['Number'], 'type': d['Type'], 'coding': d['Coding'], 'udh': binascii.hexlify(d['UDH']['Text']).decode().upper(),
                'data': binascii.hexlify(text).decode().upper() if isinstance(text, bytes) else None, 'text': text if isinstance(text, str) else None})
print(json.dumps(out))
`;

const ENCODE = `
import gammu, json, sys, binascii
base = {'Folder':1,'Location':0,'Memory':'','InboxFolder':0,'Name':'','State':'UnSent','Class':-1,'ReplyViaSameSMSC':0,'DeliveryStatus':0,
        'MessageReference':0,'ReplaceMessage':0,'RejectDuplicates':0,'Length':0,'SMSC':{'Location':0,'Number':''},'Type':'Submit'}
out = []
for case in json.load(sys.stdin):
    info = {'Class': -1, 'Unicode': case['unicode'], 'Entries': [{'ID': 'ConcatenatedTextLong', 'Buffer': case['text']}]}
    parts = []
    for m in gammu.EncodeSMS(info):
        msg = dict(base); msg.update(m); msg['Number'] = case['number']; msg['SMSC'] = base['SMSC']; msg['Type'] = 'Submit'
        parts.append(binascii.hexlify(gammu.EncodePDU(msg)).decode().upper())
    out.append(parts)
print(json.dumps(out))
`;

describe.runIf(haveGammu())('SMS PDUs against Gammu', () => {
  it('Gammu reads our WAP push PDUs (single and concatenated) as we wrote them', () => {
    const cases = fc.sample(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.stringMatching(/^\+?[1-9][0-9]{2,14}$/)), { numRuns: 40, seed: 4242 });
    const pdus: { hex: string; to: string; payload: string; udh: string }[] = [];
    for (const [wsp, to] of cases) {
      for (const p of buildWapPushSms({ to, wsp, ref: wsp.length & 0xff })) {
        const bytes = fromHex(p.pduHex)!;
        const d = decodeSmsPdu(bytes, { smsc: 'yes' });
        if (!d.ok) throw new Error(d.error.message);
        pdus.push({ hex: p.pduHex, to, payload: toHex(d.value.userData), udh: d.value.udh!.elements.map((e) => `${toHex(Uint8Array.of(e.iei, e.dataHex.length / 2))}${e.dataHex}`).join('') });
      }
    }
    const seen = gammu(DECODE, pdus.map((p) => p.hex)) as { number: string; type: string; coding: string; udh: string; data: string }[];
    expect(seen.length).toBe(pdus.length);
    seen.forEach((g, i) => {
      const p = pdus[i]!;
      expect(g.type).toBe('Submit');
      expect(g.coding).toBe('8bit');
      expect(g.number).toBe(p.to);
      // Gammu keeps the whole UDH (with its length octet); ours lists the elements.
      expect(g.udh.slice(2)).toBe(p.udh);
      expect(g.data).toBe(p.payload);
    });
  });

  it('Gammu reads our 7-bit SMS-SUBMIT text', () => {
    // Basic table only: Gammu 1.42's DecodePDU counts TP-UDL as characters, so each escape septet
    // (€ [ ] { } ~ ^ | \\) adds junk at its end. The extension table is checked the other way below,
    // where Gammu encodes and we decode.
    const texts = ['hellohello', 'Price: 5 $ (net) <a/b> = x', 'ÄÖÜäöü ß @£$¥ ¡¿ §', 'x'.repeat(160)];
    const hex = texts.map((t) => toHex(encodeSubmit({ to: '+4917012345', text: t }).pdu));
    const seen = gammu(DECODE, hex) as { text: string; coding: string }[];
    expect(seen.map((s) => s.text)).toEqual(texts);
  });

  it('we read the PDUs Gammu encodes (GSM 7-bit and UCS2, single and concatenated)', () => {
    const gsm = fc.constantFrom(...'abcXYZ 0123456789@£$¥èéÄÖÑÜ§¿äöñüà{}[]~^|€\\!?.,:;'.split(''));
    // Gammu 1.42 writes '~' as U+0001 in UCS2 (its GSM mapping leaks into EncodeSMS), so UCS2 cases go without it.
    const cases = fc
      .sample(fc.tuple(fc.array(gsm, { minLength: 1, maxLength: 400 }), fc.boolean(), fc.stringMatching(/^\+[1-9][0-9]{5,12}$/)), { numRuns: 30, seed: 77 })
      .map(([cs, unicode, number]) => ({ text: unicode ? `${cs.join('').replace(/~/g, '-')}☺` : cs.join(''), unicode, number }));
    const encoded = gammu(ENCODE, cases) as string[][];
    encoded.forEach((parts, i) => {
      const c = cases[i]!;
      let text = '';
      for (const h of parts) {
        const d = decodeSmsPdu(fromHex(h)!, { smsc: 'yes' });
        if (!d.ok) throw new Error(`${h}: ${d.error.message}`);
        expect(d.value.to?.number).toBe(c.number);
        expect(d.value.dcs.alphabet).toBe(c.unicode ? 'ucs2' : 'gsm7');
        if (parts.length > 1) expect(d.value.udh?.concat?.total).toBe(parts.length);
        text += d.value.text;
      }
      expect(text).toBe(c.text);
    });
  });
});
