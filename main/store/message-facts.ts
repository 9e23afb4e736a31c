/**
 * What the message index (message-index.ts) keeps of one logged message: its encoding, MsgID, the
 * credential it carries, one row per command item (CmdID, command, URI, status code, data text), and
 * the packet list's summaries ("Status×3 Get Results", "200×2 404", the worst code).
 *
 * Pure: bytes (or the message they decode to) in, facts out. Built once, when a message is logged
 * (or backfilled), so a filter never decodes messages again; the server hands over the message it
 * already decoded (parsedMessageFacts), other callers let it be decoded here (messageFacts).
 */
import { decodeMessage, sniffEncoding } from '../protocol/codec.js';
import { isElement, type Child } from '../protocol/element.js';
import { itemValue, type Command, type Item, type SyncML } from '../protocol/model.js';

/** Data text kept per command item for content search (`data contains`); longer data is cut here. */
export const MAX_INDEXED_DATA = 16 * 1024;
/** Data text kept in the command row itself (the CLI's and the list's excerpt). */
export const DATA_EXCERPT = 200;

export interface CommandFact {
  /** Place of the command (containers and their members flattened) in the message, from 0. */
  pos: number;
  /** Place of this item within its command, from 0 (a command without items has one fact, item 0). */
  item: number;
  cmdId: string;
  cmd: string;
  uri: string | null;
  /** A Status's own code; for other commands filled later from the Status that answers them. */
  status: number | null;
  /** For a Status or Results: the MsgID and CmdID it answers. */
  msgRef: string | null;
  cmdRef: string | null;
  /** Item data as text (up to MAX_INDEXED_DATA), or null. */
  data: string | null;
}

export interface MessageFacts {
  enc: string;
  /** The header's MsgID when the bytes decode. */
  hdrMsgId: string | null;
  /** The credential type this message carries in its SyncHdr (md5, basic, hmac...), or null. */
  cred: string | null;
  decoded: boolean;
  commands: CommandFact[];
  /** "Status×3 Get Results". */
  commandSummary: string;
  /** "200×2 404". */
  statusSummary: string;
  worst: number | null;
}

/** Runs of equal names collapsed: [a, a, a, b] -> "a×3 b". */
export function collapseRuns(names: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < names.length;) {
    let j = i + 1;
    while (j < names.length && names[j] === names[i]) j++;
    out.push(j - i > 1 ? `${names[i]}×${j - i}` : names[i]!);
    i = j;
  }
  return out.join(' ');
}

function encodingOf(bytes: Uint8Array, contentType: string | null): string {
  const ct = (contentType ?? '').toLowerCase();
  if (ct.includes('json')) return 'json';
  const sniffed = sniffEncoding(bytes);
  if (sniffed) return sniffed;
  if (ct.includes('wbxml')) return 'wbxml';
  if (ct.includes('xml')) return 'xml';
  return '';
}

/** `syncml:auth-md5` -> `md5`. */
function credType(type: string | undefined): string {
  if (!type) return 'basic';
  const t = type.trim().toLowerCase();
  return t.startsWith('syncml:auth-') ? t.slice('syncml:auth-'.length) : t;
}

function elementText(children: readonly Child[], out: string[]): void {
  for (const c of children) {
    if (typeof c === 'string') out.push(c);
    else if (isElement(c)) elementText(c.children, out);
  }
}

function itemData(item: Item, format?: string): string | null {
  const d = item.data;
  if (!d) return null;
  let text: string | undefined;
  if (d.kind === 'xml') {
    const parts: string[] = [];
    for (const e of d.elements) elementText([e], parts);
    text = parts.join(' ');
  } else {
    const v = itemValue(item, format);
    text = v?.kind === 'text' ? v.text : undefined;
  }
  if (text === undefined) return null;
  return text.length > MAX_INDEXED_DATA ? text.slice(0, MAX_INDEXED_DATA) : text;
}

function flatten(commands: readonly Command[], out: Command[] = []): Command[] {
  for (const c of commands) {
    out.push(c);
    if (c.kind === 'Atomic' || c.kind === 'Sequence') flatten(c.commands, out);
  }
  return out;
}

/** One fact; built field by field (object spreads here cost more than decoding the message). */
function fact(pos: number, item: number, c: Command, uri: string | null, status: number | null, msgRef: string | null, cmdRef: string | null, data: string | null): CommandFact {
  return { pos, item, cmdId: c.cmdID, cmd: c.kind, uri, status, msgRef, cmdRef, data };
}

function commandFacts(c: Command, pos: number): CommandFact[] {
  switch (c.kind) {
    case 'Atomic':
    case 'Sequence':
      return [fact(pos, 0, c, null, null, null, null, null)];
    case 'Status': {
      const parsed = Number.parseInt(c.data, 10);
      const code = Number.isFinite(parsed) ? parsed : null;
      const uris = c.targetRefs.length > 0 ? c.targetRefs : c.sourceRefs;
      const n = Math.max(uris.length, c.items.length, 1);
      const out: CommandFact[] = [];
      for (let i = 0; i < n; i++) {
        const it = c.items[i];
        out.push(fact(pos, i, c, uris[i] ?? null, code, c.msgRef, c.cmdRef, it ? itemData(it) : null));
      }
      return out;
    }
    default: {
      const format = 'meta' in c ? c.meta?.format : undefined;
      const msgRef = c.kind === 'Results' ? (c.msgRef ?? null) : null;
      const cmdRef = c.kind === 'Results' ? c.cmdRef : null;
      const alertCode = c.kind === 'Alert' ? (c.data ?? null) : null;
      if (c.items.length === 0) return [fact(pos, 0, c, null, null, msgRef, cmdRef, alertCode)];
      const out: CommandFact[] = [];
      for (let i = 0; i < c.items.length; i++) {
        const it = c.items[i]!;
        out.push(fact(pos, i, c, it.target?.locURI ?? it.source?.locURI ?? null, null, msgRef, cmdRef, itemData(it, format) ?? (i === 0 ? alertCode : null)));
      }
      return out;
    }
  }
}

/** Facts of a message that does not decode (or is JSON, or empty): its encoding alone. */
function undecodedFacts(enc: string): MessageFacts {
  return { enc, hdrMsgId: null, cred: null, decoded: false, commands: [], commandSummary: '', statusSummary: '', worst: null };
}

/** Facts from the stored bytes: decodes them (capture import, recovery, backfill: callers without the decoded form). */
export function messageFacts(bytes: Uint8Array, contentType: string | null): MessageFacts {
  const enc = encodingOf(bytes, contentType);
  if (bytes.length === 0 || enc === 'json') return undecodedFacts(enc);
  let d: ReturnType<typeof decodeMessage>;
  try {
    d = decodeMessage(bytes);
  } catch {
    return undecodedFacts(enc);
  }
  if (!d.ok) return undecodedFacts(enc);
  return factsOf(d.value.message, enc);
}

/**
 * The same facts from the message `bytes` decode to, when the caller already holds it (the server
 * decoded the device's message to answer it): no second decode. `parsed` must be what
 * decodeMessage(bytes) gives (or equal to it in every field read here, see `factsSurviveEncoding`).
 */
export function parsedMessageFacts(parsed: SyncML, bytes: Uint8Array, contentType: string | null): MessageFacts {
  const enc = encodingOf(bytes, contentType);
  if (bytes.length === 0 || enc === 'json') return undecodedFacts(enc);
  return factsOf(parsed, enc);
}

/**
 * True when the facts of a message we built and encoded equal those of its bytes decoded again:
 * every item's data is plain text. Binary and embedded-XML data change form on the way (base64 over
 * XML, TNDS types, OPAQUE bytes shown as text), so for those the index decodes the bytes.
 */
export function factsSurviveEncoding(m: SyncML): boolean {
  return flatten(m.body.commands).every((c) => !('items' in c) || c.items.every((it) => it.data === undefined || (it.data.kind === 'text' && it.data.text === it.data.text.trim())));
}

function factsOf(m: SyncML, enc: string): MessageFacts {
  const flat = flatten(m.body.commands);
  const commands: CommandFact[] = [];
  for (let pos = 0; pos < flat.length; pos++) commands.push(...commandFacts(flat[pos]!, pos));
  const codes: string[] = [];
  let worst: number | null = null;
  for (const c of flat) {
    if (c.kind !== 'Status') continue;
    codes.push(c.data);
    const n = Number.parseInt(c.data, 10);
    if (Number.isFinite(n) && (worst === null || n > worst)) worst = n;
  }
  return {
    enc, hdrMsgId: m.hdr.msgID, cred: m.hdr.cred ? credType(m.hdr.cred.meta?.type) : null, decoded: true, commands,
    commandSummary: collapseRuns(flat.map((c) => c.kind)), statusSummary: collapseRuns(codes), worst,
  };
}
