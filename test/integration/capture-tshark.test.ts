/**
 * Portable traces against tshark (issue 18, point 4): sessions between `dmw sim` and `dmw server`,
 * captured by tshark on lo, import to sessions whose message bytes equal the server's own log
 * (also after the TCP segments are reordered and duplicated); every exported pcapng is read by
 * tshark, each DM message dissected as SyncML (xml / wbxml) with the tags we decode and nothing
 * malformed; bundles import back; broken files exit 2 with the offset and store nothing.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeDocument } from '../../main/protocol/codec.js';
import { ServerStore } from '../../main/store/server-store.js';
import { isElement, type Element } from '../../main/protocol/element.js';
import { dmw as dmwSync, dmwAsync as dmw, dmwLab } from '../helpers/dmw-servers.js';
import { reorderAndDuplicateTcp } from '../helpers/pcap-build.js';
import { requireTools, run } from '../helpers/tools.js';

const { tmp, startServer, cleanup } = dmwLab('dmw-capture-');

/**
 * tshark reads anywhere; capturing on lo needs root or a dumpcap with CAP_NET_RAW/CAP_NET_ADMIN
 * (.ci/run gives it those when CI does not run as root). Probed with a one-second capture.
 */
function mayCapture(): boolean {
  if (!requireTools('capture (tshark)', 'tshark', 'dumpcap')) return false;
  if (process.getuid?.() === 0) return true;
  const probe = spawnSync('dumpcap', ['-i', 'lo', '-a', 'duration:1', '-w', path.join(tmpdir(), `dmw-dumpcap-probe-${process.pid}.pcapng`), '-q'], { stdio: 'ignore', timeout: 10_000 });
  rmSync(path.join(tmpdir(), `dmw-dumpcap-probe-${process.pid}.pcapng`), { force: true });
  if (probe.status === 0) return true;
  const why = 'capture (tshark): no permission to capture on lo (run as root, or give dumpcap cap_net_raw,cap_net_admin as .ci/run does)';
  if (process.env.CI) throw new Error(`${why}; CI must not skip this suite`);
  console.warn(`SKIP ${why}`);
  return false;
}
const enabled = mayCapture();

/** Wireshark 4.0 registers no dissector for the DM XML media types: Decode As XML, as a user would. */
const DECODE_AS_XML = ['application/vnd.syncml.dm+xml', 'application/vnd.syncml+xml'].flatMap((t) => ['-d', `media_type==${t},xml`]);

interface Logged { direction: string; base64: string; msgId: string | null }

/** The sessions of a data folder by "DevId SessionID", read from its store (the server's own log). */
async function sessionsOf(data: string): Promise<Map<string, { id: number; state: string; reason: string | null; messages: Logged[] }>> {
  const store = ServerStore.open(data);
  try {
    const out = new Map<string, { id: number; state: string; reason: string | null; messages: Logged[] }>();
    for (const s of store.sessions()) {
      const messages = store.messages(s.id).map((m) => ({ direction: m.direction, base64: Buffer.from(m.bytes).toString('base64'), msgId: m.msgId }));
      out.set(`${s.device} ${s.dmSessionId}`, { id: s.id, state: s.state, reason: s.reason, messages });
    }
    return out;
  } finally {
    store.close();
  }
}

/** Element names in document order, as a dissector lists start tags. */
function ourTags(bytes: Uint8Array): string[] {
  const d = decodeDocument(bytes);
  if (!d.ok) throw new Error('a logged message does not decode');
  const names: string[] = [];
  const walk = (e: Element) => {
    names.push(e.name);
    for (const c of e.children) if (isElement(c)) walk(c);
  };
  walk(d.value.document.root);
  return names;
}

/** Per HTTP message in the trace: content type, tags (xml or wbxml), malformed and expert severities. */
function tsharkMessages(file: string) {
  const out = run('tshark', ['-r', file, ...DECODE_AS_XML, '-Y', 'http.content_type', '-T', 'fields', '-E', 'separator=\t', '-E', 'aggregator=\u001f',
    '-e', 'http.content_type', '-e', 'xml.tag', '-e', 'wbxml.known_tag', '-e', '_ws.malformed', '-e', 'wbxml.invalid_token']).toString('utf8');
  return out.trim().split('\n').filter(Boolean).map((line) => {
    const [ct, xml, wb, malformed, invalid] = line.split('\t');
    const tags = xml ? xml.split('\u001f').map((t) => /^<([^\s/>]+)/.exec(t)![1]!) : (wb ?? '').split('\u001f').filter(Boolean);
    return { ct: ct!, tags, malformed: malformed ?? '', invalid: invalid ?? '' };
  });
}

/** tshark on lo with a capture filter on the server's port, bounded by packet count and time. */
async function startCapture(port: number, file: string) {
  const child = spawn('tshark', ['-i', 'lo', '-f', `tcp port ${port}`, '-w', file, '-c', '5000', '-a', 'duration:60', '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  cleanup.push(async () => {
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await exited;
    }
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const deadline = Date.now() + 20_000;
  while (!/Capturing on/.test(err)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`tshark did not start capturing: ${err}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    async stop() {
      // Let the last FIN/ACKs reach the capture, then end it cleanly (SIGINT flushes the file).
      await new Promise((r) => setTimeout(r, 500));
      child.kill('SIGINT');
      await exited;
    },
  };
}

describe.skipIf(!enabled)('captures made with tshark between dmw sim and dmw server', () => {
  it('import to sessions whose message bytes equal the server log, also with segments reordered and duplicated; credentials checked', async () => {
    const data = tmp();
    const dir = tmp();
    const srv = await startServer(data, ['--client-auth', 'md5', '--client-cred', 'lab:pw', '--server-cred', 'dmw:srvpw', '--server-id', 'dmw-lab']);
    const file = path.join(dir, 'lab.pcapng');
    const cap = await startCapture(srv.port, file);
    const sim = ['--server', srv.dmUrl, '--auth', 'md5', '--client-cred', 'lab:pw', '--server-cred', 'dmw:srvpw', '--json'];
    expect((await dmw(['sim', ...sim, '--count', '2'])).code).toBe(0);
    expect((await dmw(['sim', ...sim, '--count', '2', '--wbxml'])).code).toBe(0);
    await cap.stop();

    const logged = await sessionsOf(data);
    expect(logged.size).toBe(4);

    const imp = tmp();
    const r = await dmw(['capture', 'import', file, '--data', imp, '--client-cred', 'lab:pw', '--server-cred', 'dmw:srvpw', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const total = [...logged.values()].reduce((n, s) => n + s.messages.length, 0);
    expect(JSON.parse(r.out)).toEqual({ sessions: 4, messages: total, skipped: [] });
    const imported = await sessionsOf(imp);
    expect([...imported.keys()].sort()).toEqual([...logged.keys()].sort());
    for (const [key, s] of logged) {
      const i = imported.get(key)!;
      expect(i.state).toBe('imported');
      expect(i.reason).toBe('imported from lab.pcapng');
      expect(i.messages.map((m) => [m.direction, m.base64])).toEqual(s.messages.map((m) => [m.direction, m.base64]));
    }
    // The credential check: each session's second client message answers the server's nonce.
    const notes = JSON.parse((await dmw(['session', 'show', String([...imported.values()][0]!.id), '--data', imp, '--json'])).out).messages.map((m: { note: string | null }) => m.note ?? '').join('\n');
    expect(notes).toMatch(/client MD5 credential for "lab": valid/);
    expect(notes).not.toMatch(/INVALID/);
    const wrong = tmp();
    expect((await dmw(['capture', 'import', file, '--data', wrong, '--client-cred', 'lab:nope'])).code).toBe(0);
    const wrongNotes = JSON.parse((await dmw(['session', 'show', '1', '--data', wrong, '--json'])).out).messages.map((m: { note: string | null }) => m.note ?? '').join('\n');
    expect(wrongNotes).toMatch(/client MD5 credential for "lab": INVALID/);

    // The same capture with its TCP data segments out of order and retransmitted.
    const mutated = reorderAndDuplicateTcp(readFileSync(file));
    expect(mutated.swapped).toBeGreaterThan(4);
    expect(mutated.duplicated).toBeGreaterThan(4);
    const mfile = path.join(dir, 'mutated.pcapng');
    writeFileSync(mfile, mutated.file);
    // tshark itself sees the damage the helper did.
    expect(run('tshark', ['-r', mfile, '-Y', 'tcp.analysis.retransmission || tcp.analysis.out_of_order || tcp.analysis.spurious_retransmission']).toString().trim().split('\n').length).toBeGreaterThan(4);
    const imp2 = tmp();
    const r2 = await dmw(['capture', 'import', mfile, '--data', imp2, '--json']);
    expect(JSON.parse(r2.out)).toEqual({ sessions: 4, messages: total, skipped: [] });
    const again = await sessionsOf(imp2);
    for (const [key, s] of logged) expect(again.get(key)!.messages.map((m) => [m.direction, m.base64])).toEqual(s.messages.map((m) => [m.direction, m.base64]));
  }, 90_000);
});

describe.skipIf(!requireTools('capture export (tshark)', 'tshark', 'capinfos'))('dmw session export', () => {
  it('writes pcapng tshark dissects: every DM message as SyncML (xml / wbxml) with our tags, none malformed; it imports back byte for byte', async () => {
    const data = tmp();
    const dir = tmp();
    const srv = await startServer(data, ['--client-auth', 'md5', '--client-cred', 'lab:pw']);
    const sim = ['--server', srv.dmUrl, '--auth', 'md5', '--client-cred', 'lab:pw', '--json'];
    expect((await dmw(['sim', ...sim, '--count', '1'])).code).toBe(0);
    expect((await dmw(['sim', ...sim, '--count', '1', '--wbxml'])).code).toBe(0);
    const logged = await sessionsOf(data);
    expect(logged.size).toBe(2);
    for (const [key, s] of logged) {
      const out = path.join(dir, `s${s.id}.pcapng`);
      const e = await dmw(['session', 'export', String(s.id), '--data', data, '--format', 'pcapng', '-o', out]);
      expect(e.err).toBe('');
      expect(e.code).toBe(0);
      // What produced it: the section header's comment and application.
      const info = run('capinfos', [out]).toString();
      expect(info).toMatch(/Capture application: DM Workbench \S+ \(dmw session export\)/);
      expect(info).toMatch(new RegExp(`Capture comment:\\s+DM Workbench \\S+: session ${s.id} \\(device ${key.split(' ')[0]}`));
      const seen = tsharkMessages(out);
      expect(seen).toHaveLength(s.messages.length);
      seen.forEach((m, i) => {
        expect(m.malformed).toBe('');
        expect(m.invalid).toBe('');
        expect(m.tags.length).toBeGreaterThan(5);
        expect(m.tags).toEqual(ourTags(Buffer.from(s.messages[i]!.base64, 'base64')));
      });
      expect(run('tshark', ['-r', out, ...DECODE_AS_XML, '-Y', '_ws.malformed || _ws.expert.severity >= "Warning"']).toString().trim()).toBe('');
      // And back: the trace imports to the same messages.
      const imp = tmp();
      expect(JSON.parse((await dmw(['capture', 'import', out, '--data', imp, '--json'])).out)).toEqual({ sessions: 1, messages: s.messages.length, skipped: [] });
      expect((await sessionsOf(imp)).get(key)!.messages).toEqual(s.messages);
    }
  }, 90_000);
});

describe('session bundles and broken captures (CLI)', () => {
  it('a bundle holds the JSON export, the settings without secrets and the app version, and imports back', async () => {
    const data = tmp();
    const srv = await startServer(data, []);
    expect((await dmw(['sim', '--server', srv.dmUrl, '--count', '1', '--json'])).code).toBe(0);
    writeFileSync(path.join(data, 'workbench.json'), JSON.stringify({ settings: { port: 0, serverId: 'dmw', serverCred: { name: 'dmw', secret: 'srv-secret' }, defaultClientCred: { name: 'lab', secret: 'cli-secret' } } }));
    const out = path.join(tmp(), 'b.json');
    expect((await dmw(['session', 'export', '1', '--data', data, '--format', 'bundle', '-o', out])).code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).not.toMatch(/srv-secret|cli-secret/);
    const doc = JSON.parse(text);
    expect(doc).toMatchObject({ format: 'dmw-session-bundle/1', appVersion: JSON.parse(readFileSync('package.json', 'utf8')).version, settings: { serverId: 'dmw', serverCred: { name: 'dmw', secret: '(removed)' } }, export: { format: 'dmw-session-export/1', session: { id: 1 } } });
    const imp = tmp();
    expect(JSON.parse((await dmw(['capture', 'import', out, '--data', imp, '--json'])).out)).toEqual({ sessions: 1, messages: doc.export.messages.length, skipped: [] });
    const [a] = [...(await sessionsOf(data)).values()];
    const [b] = [...(await sessionsOf(imp)).values()];
    expect(b!.messages).toEqual(a!.messages);
    expect(b!.reason).toBe('imported from b.json');
  });

  it('a broken capture exits 2 naming the file offset, and stores nothing', async () => {
    const dir = tmp();
    const data = tmp();
    const good = path.join(dir, 'good.json');
    // A data folder that already holds one imported session.
    writeFileSync(good, JSON.stringify({ format: 'dmw-session-export/1', session: { device: 'IMEI:1', dmSessionId: '1', encoding: 'xml' }, messages: [{ direction: 'in', at: '2026-01-01T00:00:00Z', base64: 'PFN5bmNNTC8+' }] }));
    expect(dmwSync(['capture', 'import', good, '--data', data]).code).toBe(0);
    // A pcap whose second record claims more bytes than the file has.
    const pcap = Buffer.alloc(24 + 16 + 4 + 16 + 2);
    pcap.writeUInt32LE(0xa1b2c3d4, 0);
    pcap.writeUInt32LE(1, 20);
    pcap.writeUInt32LE(4, 24 + 8);
    pcap.writeUInt32LE(1000, 24 + 16 + 4 + 8);
    const broken = path.join(dir, 'broken.pcap');
    writeFileSync(broken, pcap);
    const r = dmwSync(['capture', 'import', broken, '--data', data]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`dmw: ${broken}: broken capture at file offset 44: pcap record of 1000 bytes runs past the end of the file; nothing imported\n`);
    expect(JSON.parse(dmwSync(['session', 'list', '--data', data, '--json']).out)).toHaveLength(1);
    // A bundle with a bad message: nothing of it either.
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ format: 'dmw-session-export/1', session: {}, messages: [{ direction: 'in', at: '2026-01-01T00:00:00Z', base64: 'QQ==' }, { direction: 'up', at: 'x', base64: '' }] }));
    const rb = dmwSync(['capture', 'import', bad, '--data', data]);
    expect(rb.code).toBe(2);
    expect(rb.err).toMatch(/messages\[1\]\.direction must be "in" or "out"; nothing imported/);
    expect(JSON.parse(dmwSync(['session', 'list', '--data', data, '--json']).out)).toHaveLength(1);
    // Both commands explain themselves.
    expect(dmwSync(['capture', 'import', '--help'])).toMatchObject({ code: 0, out: expect.stringContaining('dmw capture import FILE --data DIR') });
    expect(dmwSync(['session', 'export', '--help'])).toMatchObject({ code: 0, out: expect.stringContaining('dmw session export ID --data DIR|--store URL --format pcapng|bundle -o OUT') });
  });
});
