/**
 * What a sequence diagram needs from one evidence message: its MsgID, the commands it carries (one
 * short label) and whether it closes its package (Final). Read from the message's XML, which the
 * device controls: anything that does not read as SyncML still gets a row, labelled as such.
 */
import { isElement, type Element } from '../../protocol/element.js';
import { parseXml } from '../../protocol/xml/parse.js';
import type { EvidenceMessage, EvidenceSession } from './types.js';

export interface DiagramMessage {
  seq: number;
  direction: 'in' | 'out';
  /** Milliseconds since the session's first message. */
  offsetMs: number;
  size: number;
  msgId: string | null;
  /** The top-level commands, e.g. `Status×3 (200, 212) · Alert 1201 · Replace`. */
  commands: string;
  /** The message closes its package (null: the XML did not read). */
  final: boolean | null;
}

function child(e: Element, name: string): Element | undefined {
  for (const c of e.children) if (isElement(c) && c.name === name) return c;
  return undefined;
}

function text(e: Element | undefined): string {
  if (!e) return '';
  let s = '';
  for (const c of e.children) if (typeof c === 'string') s += c;
  return s.trim();
}

/** Consecutive commands of one kind shown once with a count; Alert and Status with their codes. */
export function commandLabel(body: Element): string {
  const runs: { kind: string; n: number; codes: string[] }[] = [];
  for (const c of body.children) {
    if (!isElement(c) || c.name === 'Final') continue;
    const code = c.name === 'Alert' || c.name === 'Status' ? text(child(c, 'Data')) : '';
    const last = runs[runs.length - 1];
    if (last && last.kind === c.name && c.name !== 'Alert') {
      last.n++;
      if (code && !last.codes.includes(code)) last.codes.push(code);
    } else {
      runs.push({ kind: c.name, n: 1, codes: code ? [code] : [] });
    }
  }
  return runs
    .map((r) => {
      const head = r.n > 1 ? `${r.kind}×${r.n}` : r.kind;
      if (r.kind === 'Alert') return `Alert ${r.codes[0] ?? '?'}`;
      return r.codes.length > 0 ? `${head} (${r.codes.slice(0, 4).join(', ')}${r.codes.length > 4 ? ', …' : ''})` : head;
    })
    .join(' · ');
}

export function describeMessage(m: EvidenceMessage, firstAt: number): DiagramMessage {
  const base = { seq: m.seq, direction: m.direction, offsetMs: Math.max(0, m.at - firstAt), size: m.size };
  const doc = parseXml(m.xml);
  if (!doc.ok || doc.value.root.name !== 'SyncML') {
    const id = /<MsgID>\s*([^<\s]{1,32})\s*<\/MsgID>/.exec(m.xml);
    return { ...base, msgId: id ? id[1]! : null, commands: m.xml.trim() === '' ? 'empty' : 'not SyncML XML', final: null };
  }
  const root = doc.value.root;
  const hdr = child(root, 'SyncHdr');
  const body = child(root, 'SyncBody');
  const msgId = hdr ? text(child(hdr, 'MsgID')) : '';
  return {
    ...base,
    msgId: msgId === '' ? null : msgId.slice(0, 32),
    commands: body ? commandLabel(body) || 'no commands' : 'no SyncBody',
    final: body ? child(body, 'Final') !== undefined : false,
  };
}

export function describeSession(s: EvidenceSession): DiagramMessage[] {
  const firstAt = s.messages.reduce((min, m) => Math.min(min, m.at), s.messages[0]?.at ?? 0);
  return s.messages.map((m) => describeMessage(m, firstAt));
}
