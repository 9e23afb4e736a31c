/**
 * Our XML scanner against saxes, a general XML 1.0 parser: on real and generated documents, and on
 * tens of thousands of mutations of them, both must accept or both refuse, and when they accept they
 * must build the same tree.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseXml } from '../../main/protocol/xml/parse.js';
import { canonicalTree } from '../helpers/canonical.js';
import { parseXmlWithSaxes } from '../helpers/saxes-reference.js';
import { CORPUS_DIR, VECTORS_DIR } from '../helpers/tools.js';

const sources = [
  ...readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.xml')).map((f) => path.join(CORPUS_DIR, f)),
  ...readdirSync(VECTORS_DIR).filter((f) => f.endsWith('.xml')).map((f) => path.join(VECTORS_DIR, f)),
].map((f) => readFileSync(f, 'utf8'));

function verdict(r: ReturnType<typeof parseXml>): string {
  return r.ok ? canonicalTree(r.value.root) : 'error';
}

/** Mulberry32: a seeded PRNG, so a failure reproduces. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['<', '>', '/', '&', ';', '&amp;', '&#x41;', '&#0;', '&bogus;', ']]>', '<![CDATA[', '<!--', '-->', '"', "'", '=', ' ', '\n', '\r', '\u0001', 'é', '<?pi x?>', '<Data>', '</Data>', '<Item/>', 'xmlns="syncml:metinf"', 'x="1"'];

function mutate(s: string, rnd: () => number): string {
  const at = Math.floor(rnd() * (s.length + 1));
  switch (Math.floor(rnd() * 4)) {
    case 0: return s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 8)); // delete
    case 1: return s.slice(0, at) + PIECES[Math.floor(rnd() * PIECES.length)] + s.slice(at); // insert markup
    case 2: return s.slice(0, at); // truncate
    default: { // swap two slices
      const b = Math.floor(rnd() * (s.length + 1));
      const [x, y] = at < b ? [at, b] : [b, at];
      return s.slice(0, x) + s.slice(y) + s.slice(x, y);
    }
  }
}

describe('XML scanner vs saxes', () => {
  it.each(sources.map((s, i) => [i, s] as const))('document %i: same tree', (_, s) => {
    expect(verdict(parseXml(s))).toBe(verdict(parseXmlWithSaxes(s)));
  });

  it('agrees on 30,000 mutated documents', () => {
    const rnd = prng(0x5eed);
    const disagreements: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      let doc = sources[i % sources.length]!;
      const rounds = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < rounds; k++) doc = mutate(doc, rnd);
      const ours = verdict(parseXml(doc));
      const theirs = verdict(parseXmlWithSaxes(doc));
      if (ours !== theirs && disagreements.length < 5) { const s = parseXmlWithSaxes(doc); disagreements.push(`#${i}: ours=${ours.slice(0, 60)} saxes=${s.ok ? theirs.slice(0, 60) : JSON.stringify(s.error)}\n${JSON.stringify(doc.slice(0, 300))}`); }
    }
    expect(disagreements).toEqual([]);
  });
});
