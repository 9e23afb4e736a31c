/**
 * The `dmw codec` contracts, run as a user runs them: a real process, real files, exit codes and stderr.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CORPUS_DIR, REPO_ROOT, VECTORS_DIR } from '../helpers/tools.js';

const BIN = path.join(REPO_ROOT, 'main/cli/bin.mjs');
const tmp = mkdtempSync(path.join(tmpdir(), 'dmw-cli-'));

function dmw(args: string[], input?: Uint8Array) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') };
}

describe('dmw codec', () => {
  it('decodes a real WBXML vector to pretty XML', () => {
    const r = dmw(['codec', 'decode', path.join(VECTORS_DIR, 'testadd.wbxml')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('<SyncML xmlns="SYNCML:SYNCML1.1">');
    expect(r.out).toContain('    <VerProto>DM/1.2</VerProto>');
    expect(r.out).toContain('<LocURI>./TestLeafNode</LocURI>');
    expect(r.out).toContain('<Format xmlns="syncml:metinf">node</Format>');
  });

  it('decodes XML from stdin, warning about a bare &', () => {
    const r = dmw(['codec', 'decode', '-'], readFileSync(path.join(VECTORS_DIR, 'testalertconfirm.xml')));
    expect(r.code).toBe(0);
    expect(r.out).toContain('<Data>MAXDT=15&amp;DR=1</Data>');
    expect(r.err).toMatch(/^dmw: stdin: warning: bare '&'/);
  });

  it('encodes XML to WBXML with the DM 1.2 header, and back to the same XML', () => {
    const src = path.join(CORPUS_DIR, 'server-all-commands.xml');
    const out = path.join(tmp, 'all.wbxml');
    const enc = dmw(['codec', 'encode', src, '--to', 'wbxml', '-o', out]);
    expect(enc.err).toBe('');
    expect(enc.code).toBe(0);
    const bytes = readFileSync(out);
    expect(Array.from(bytes.subarray(0, 5))).toEqual([0x02, 0xa4, 0x01, 0x6a, 0x00]);
    const back = dmw(['codec', 'encode', out, '--to', 'xml']);
    const direct = dmw(['codec', 'decode', src]);
    expect(back.out).toBe(direct.out);
  });

  it('writes binary item data as OPAQUE', () => {
    const r = dmw(['codec', 'encode', path.join(CORPUS_DIR, 'binary-data.xml'), '--to', 'wbxml']);
    expect(r.code).toBe(0);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    // OPAQUE (0xC3), length 256 as mb_u_int32 (0x82 0x00), then the bytes as they are.
    expect(r.stdout.indexOf(Buffer.concat([Buffer.from([0xc3, 0x82, 0x00]), all]))).toBeGreaterThan(0);
  });

  it('dumps WBXML tokens with offsets, pages and tags', () => {
    const r = dmw(['codec', 'inspect', path.join(VECTORS_DIR, 'testget.wbxml')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/SyncHdr/);
    expect(r.out).toMatch(/SWITCH_PAGE/);
    expect(r.out).toMatch(/MaxMsgSize/);
  });

  it('shows the tokens read before a fault, then fails with the offset', () => {
    const bytes = readFileSync(path.join(VECTORS_DIR, 'testget.wbxml')).subarray(0, 100);
    const f = path.join(tmp, 'cut.wbxml');
    writeFileSync(f, bytes);
    const r = dmw(['codec', 'inspect', f]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/SyncHdr/);
    expect(r.err).toMatch(new RegExp(`^dmw: ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .* at byte \\d+\\n$`));
  });

  it.each([
    ['truncated WBXML', Buffer.from([0x02, 0xa4, 0x01, 0x6a, 0x00, 0x6d, 0x6c, 0x71, 0x03, 0x31]), /at byte \d+$/],
    ['unknown token', Buffer.from([0x02, 0xa4, 0x01, 0x6a, 0x00, 0x7f, 0x01]), /at byte 5$/],
    ['malformed XML', Buffer.from('<SyncML xmlns="SYNCML:SYNCML1.2">\n<SyncHdr></SyncBody>'), /at line 2:\d+$/],
    ['entity bomb', Buffer.from('<!DOCTYPE x [<!ENTITY a "aaaa">]><SyncML xmlns="SYNCML:SYNCML1.2">&a;</SyncML>'), /at line 1:\d+$/],
    ['external entity', Buffer.from('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><SyncML>&e;</SyncML>'), /at line 1:\d+$/],
    ['not a message', Buffer.from('hello'), /at byte 0$/],
    ['empty', Buffer.alloc(0), /at byte 0$/],
    ['structure', Buffer.from('<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr/><SyncBody/></SyncML>'), /has no VerDTD \(in SyncML\/SyncHdr\) at line 1:\d+$/],
  ])('bad input (%s): exit 2, one line on stderr naming the file and position', (_, bytes, where) => {
    const f = path.join(tmp, 'bad.bin');
    writeFileSync(f, bytes);
    for (const cmd of [['decode', f], ['encode', f, '--to', 'wbxml']]) {
      const r = dmw(['codec', ...cmd]);
      expect(r.code).toBe(2);
      const lines = r.err.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^dmw: ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      expect(lines[0]).toMatch(where);
      expect(r.err).not.toMatch(/root:|passwd|\n\s+at /);
      expect(r.out).toBe('');
    }
  });

  it('refuses a document whose root is neither SyncML nor MgmtTree (exit 2, one line naming the root and where), unless --lenient', () => {
    const f = path.join(tmp, 'page.xml');
    writeFileSync(f, '<?xml version="1.0"?>\n<html><body>hello</body></html>');
    for (const cmd of [['decode', f], ['encode', f, '--to', 'wbxml'], ['encode', f, '--to', 'xml']]) {
      const r = dmw(['codec', ...cmd]);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toBe(`dmw: ${f}: the root element is <html>, not SyncML or MgmtTree (a DM message or a TNDS tree; --lenient prints any well-formed document) at line 2:1\n`);
    }
    const lenient = dmw(['codec', 'decode', f, '--lenient']);
    expect(lenient.code).toBe(0);
    expect(lenient.out).toContain('<body>hello</body>');
  });

  it('still decodes and re-encodes a TNDS tree (root MgmtTree), in XML and WBXML', () => {
    const src = path.join(CORPUS_DIR, 'tnds-document.xml');
    const r = dmw(['codec', 'decode', src]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('<MgmtTree');
    const wb = path.join(tmp, 'tnds.wbxml');
    const enc = dmw(['codec', 'encode', src, '--to', 'wbxml', '-o', wb]);
    expect(enc.err).toBe('');
    expect(enc.code).toBe(0);
    const back = dmw(['codec', 'decode', wb]);
    expect(back.err).toBe('');
    expect(back.code).toBe(0);
    expect(back.out).toContain('<MgmtTree');
  });

  it('reports a missing file and bad arguments without a stack trace', () => {
    const missing = dmw(['codec', 'decode', path.join(tmp, 'nope.wbxml')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope\.wbxml: no such file/);
    const badTo = dmw(['codec', 'encode', path.join(VECTORS_DIR, 'testadd.wbxml'), '--to', 'json']);
    expect(badTo.code).toBe(2);
    expect(badTo.err).toMatch(/--to must be wbxml or xml/);
  });

  it('benchmarks in one process and prints one JSON line', () => {
    const wb = path.join(tmp, 'pkg1.wbxml');
    dmw(['codec', 'encode', path.join(CORPUS_DIR, 'client-pkg1.xml'), '--to', 'wbxml', '-o', wb]);
    const r = dmw(['codec', 'bench', wb, path.join(CORPUS_DIR, 'client-pkg1.xml'), '--iterations', '200', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]!);
    expect(Object.keys(j).sort()).toEqual(['decode_MBps', 'decode_us_per_msg', 'encode_MBps', 'encode_us_per_msg']);
    for (const v of Object.values(j)) expect(v as number).toBeGreaterThan(0);
  });
});
