/**
 * What the fast-path tests of decodeMessage and encodeMessage share (message-fast-read.test.ts,
 * message-fast-write.test.ts): the repo's WBXML corpus, the messages of a real bench session, and a
 * deep comparison that also holds key order.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { decodeDocument, decodeMessage, encodeMessage, wbxmlFromDocument } from '../../main/protocol/codec.js';
import { DmServer } from '../../main/server/server.js';
import { VirtualHandset } from '../../main/client/index.js';
import { DEVICE } from '../../main/tree/tree.js';
import { REPO_ROOT } from '../bench/fixtures.js';

export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');
export const SHARED_VECTORS = path.join(REPO_ROOT, '..', 'shared', 'vectors', 'android-dm12');

export function filesUnder(dir: string, ext: string): string[] {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) out = out.concat(filesUnder(p, ext));
    else if (n.endsWith(ext)) out.push(p);
  }
  return out;
}

/** isDeepStrictEqual (prototypes too: Uint8Array is not Buffer), plus the same key order in every object. */
export function sameValue(a: unknown, b: unknown, at = 'message'): string {
  if (!isDeepStrictEqual(a, b)) return `${at}: values differ:\nfast ${show(a)}\ntree ${show(b)}`;
  if (a === null || typeof a !== 'object' || a instanceof Uint8Array) return '';
  const ka = Object.keys(a);
  const kb = Object.keys(b as object);
  if (ka.join() !== kb.join()) return `${at}: key order ${ka.join()} against ${kb.join()}`;
  for (const k of ka) {
    const d = sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`);
    if (d) return d;
  }
  return '';
}

function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? `bytes:${Buffer.from(x).toString('hex')}` : x));
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// ------------------------------------------------------------------------------- the corpus

/** Every WBXML message of the repo: files, the shared vectors, and the XML fixtures encoded (tree encoder and message encoder). */
export function corpus(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of [...filesUnder(FIXTURES, '.wbxml'), ...filesUnder(SHARED_VECTORS, '.wbxml')]) out.push(new Uint8Array(readFileSync(f)));
  for (const f of [...filesUnder(FIXTURES, '.xml'), ...filesUnder(SHARED_VECTORS, '.xml')]) {
    const bytes = new Uint8Array(readFileSync(f));
    const d = decodeDocument(bytes);
    if (!d.ok) continue;
    const w = wbxmlFromDocument(d.value.document);
    if (w.ok) out.push(w.value);
    const m = decodeMessage(bytes);
    if (!m.ok) continue;
    const e = encodeMessage(m.value.message, 'wbxml');
    if (e.ok) out.push(e.value);
  }
  return out;
}

// ------------------------------------------------------------------- a real bench session

const BENCH_CLIENT = { name: 'lab', secret: 'pw' };
const BENCH_SERVER = { name: 'dmw', secret: 'srvpw' };

/**
 * The messages of the server bench's sessions (`npm run bench -- server`): our DmServer and a
 * virtual handset, WBXML, MD5 both ways, a Get and a Replace job per session; the first session
 * meets the server (401 and a challenge), the later ones are the bench's steady state.
 */
export async function benchSession(): Promise<{ in: Uint8Array[]; out: Uint8Array[] }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'dmw-fast-read-'));
  const server = await DmServer.start({ dataDir, port: 0, host: '127.0.0.1', clientAuth: 'md5', defaultClientCred: BENCH_CLIENT, serverCred: BENCH_SERVER, serverAuth: 'md5' });
  const devId = 'IMEI:490154203237518';
  const h = await VirtualHandset.open({
    encoding: 'wbxml',
    device: { devId, accounts: [{ serverId: 'dmw', addr: server.url, clientCred: { type: 'DIGEST', ...BENCH_CLIENT }, serverCred: { type: 'DIGEST', ...BENCH_SERVER } }] },
  });
  const msgs = { in: [] as Uint8Array[], out: [] as Uint8Array[] };
  try {
    const r = h.tree.add(DEVICE, './Vendor/Mode', { format: 'chr', value: 'turbo', createParents: true, acl: 'Get=*&Replace=*' });
    if (!r.ok) throw new Error(r.message);
    h.on((e) => {
      if (e.type === 'message' && e.bytes.length > 0) msgs[e.direction].push(e.bytes);
    });
    for (let i = 0; i < 3; i++) {
      await server.addJob(devId, { kind: 'get', uri: './DevInfo/Mod' });
      await server.addJob(devId, { kind: 'replace', uri: './Vendor/Mode', value: `mode-${i}` });
      const o = await h.connect({ serverId: 'dmw', sessionId: `1A2${i}` });
      if (!o.ok) throw new Error(`bench session ${i}: ${o.error}`);
    }
  } finally {
    h.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return msgs;
}

