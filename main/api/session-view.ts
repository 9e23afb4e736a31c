/**
 * The session log as the debugger shows it: each logged message decoded into its commands, each
 * command paired with the Status and Results the peer sent for it (by direction, MsgRef and CmdRef),
 * the auth exchange per message, and timing. Pure functions over MessageRecords.
 */
import { decodeMessage, sniffEncoding } from '../protocol/codec.js';
import { describeCodecError } from '../protocol/errors.js';
import { itemValue, type Command, type Item, type SyncML } from '../protocol/model.js';
import { formatTokenDump, inspectWbxml } from '../protocol/wbxml/inspect.js';
import type { MessageRecord } from '../server/types.js';
import type { CommandViewT, MessageDetail, MessageSummary } from './contract.js';

const SUMMARY_MAX = 120;

function clip(s: string, max = SUMMARY_MAX): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** An item's value as the debugger shows it: text (OPAQUE text included, see itemValue), else its size. */
function itemData(i: Item, commandFormat?: string): string | undefined {
  const v = itemValue(i, commandFormat);
  if (v?.kind === 'text') return v.text;
  if (v?.kind === 'binary') return `[${v.bytes.length} bytes]`;
  return i.data ? '[xml]' : undefined;
}

function itemUri(i: Item): string | undefined {
  return i.target?.locURI ?? i.source?.locURI;
}

function summarize(c: Command): string {
  switch (c.kind) {
    case 'Status':
      return `${c.data} for ${c.cmd} #${c.cmdRef}${c.chal ? ` (challenge ${c.chal.meta.type ?? ''})` : ''}`;
    case 'Alert':
      return clip([`Alert ${c.data ?? ''}`, ...c.items.map((i) => itemData(i) ?? itemUri(i) ?? '')].filter(Boolean).join(' '));
    case 'Results':
      return clip(c.items.map((i) => {
        const v = itemData(i, c.meta?.format);
        return v === undefined ? (itemUri(i) ?? '') : `${itemUri(i) ?? ''} = ${v}`;
      }).join(', '));
    case 'Atomic':
    case 'Sequence':
      return `${c.commands.length} command(s)`;
    default:
      return clip(c.items.map((i) => {
        const v = itemData(i, c.meta?.format);
        const fmt = i.meta?.format ?? c.meta?.format;
        return `${itemUri(i) ?? ''}${v !== undefined ? ` = ${v}` : ''}${fmt ? ` (${fmt})` : ''}`;
      }).join(', '));
  }
}

interface Flat {
  command: Command;
  depth: number;
}

function flatten(commands: Command[], depth = 0, out: Flat[] = []): Flat[] {
  for (const c of commands) {
    out.push({ command: c, depth });
    if (c.kind === 'Atomic' || c.kind === 'Sequence') flatten(c.commands, depth + 1, out);
  }
  return out;
}

export interface DecodedLog {
  record: MessageRecord;
  message: SyncML | undefined;
}

/** Decodes once per message id: logged messages never change their bytes. */
export class DecodeCache {
  private readonly map = new Map<number, SyncML | null>();
  constructor(private readonly max = 20_000) {}

  get(m: MessageRecord): SyncML | undefined {
    const hit = this.map.get(m.id);
    if (hit !== undefined) return hit ?? undefined;
    const d = m.bytes.length > 0 ? decodeMessage(m.bytes) : undefined;
    const v = d && d.ok ? d.value.message : null;
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(m.id, v);
    return v ?? undefined;
  }
}

function basicName(data: string): string | null {
  try {
    const text = Buffer.from(data, 'base64').toString('utf8');
    const i = text.indexOf(':');
    return i > 0 ? text.slice(0, i) : null;
  } catch {
    return null;
  }
}

/**
 * Message summaries with every command answered where the log holds the answer. `opts.t0` is the
 * session's first message time (offsets), when `records` are a window of it; `opts.count` summarizes
 * only the first `count` records, the rest (a lookahead) only lend their Statuses and Results.
 */
export function summarizeSession(records: MessageRecord[], cache: DecodeCache, opts: { t0?: number; count?: number } = {}): MessageSummary[] {
  const t0 = opts.t0 ?? (records.length > 0 ? Date.parse(records[0]!.at) : 0);
  const summaries: MessageSummary[] = [];
  const byKey = new Map<string, CommandViewT>();
  const decoded = records.map((r) => ({ record: r, message: cache.get(r) }));
  const count = Math.min(opts.count ?? records.length, records.length);

  for (const { record: r, message: m } of decoded.slice(0, count)) {
    const commands: CommandViewT[] = [];
    if (m) {
      for (const { command: c, depth } of flatten(m.body.commands)) {
        const targets = 'items' in c ? c.items.map(itemUri).filter((u): u is string => u !== undefined) : [];
        const view: CommandViewT = {
          cmdId: c.cmdID,
          kind: c.kind,
          targets: c.kind === 'Status' ? c.targetRefs : targets,
          summary: summarize(c),
          depth,
          ref: c.kind === 'Status' ? { msgRef: c.msgRef, cmdRef: c.cmdRef, cmd: c.cmd } : c.kind === 'Results' ? { msgRef: c.msgRef ?? '', cmdRef: c.cmdRef, cmd: null } : null,
          status: null,
          results: [],
        };
        commands.push(view);
        if (c.kind !== 'Status' && c.kind !== 'Results') byKey.set(`${r.direction}:${m.hdr.msgID}:${c.cmdID}`, view);
      }
    }
    const hdrStatus = m?.body.commands.find((c) => c.kind === 'Status' && (c.cmdRef === '0' || c.cmd === 'SyncHdr'));
    const cred = m?.hdr.cred;
    summaries.push({
      id: r.id,
      seq: r.seq,
      direction: r.direction,
      at: r.at,
      offsetMs: Date.parse(r.at) - t0,
      durationMs: r.durationMs,
      msgId: r.msgId ?? m?.hdr.msgID ?? null,
      size: r.bytes.length,
      contentType: r.contentType,
      httpStatus: r.httpStatus,
      final: m ? m.body.final : null,
      error: r.error,
      note: r.note,
      commands,
      auth: {
        cred: cred
          ? { type: cred.meta?.type ?? null, name: m?.hdr.source.locName ?? (cred.meta?.type === 'syncml:auth-basic' ? basicName(cred.data) : null) }
          : null,
        hdrStatus: hdrStatus && hdrStatus.kind === 'Status'
          ? { code: hdrStatus.data, chalType: hdrStatus.chal?.meta.type ?? null, nextNonce: hdrStatus.chal?.meta.nextNonce ?? null }
          : null,
      },
    });
  }

  // Answers: a Status/Results in a message of one direction refers to a command of the other.
  for (let i = 0; i < decoded.length; i++) {
    const { record: r, message: m } = decoded[i]!;
    if (!m) continue;
    const peer = r.direction === 'in' ? 'out' : 'in';
    for (const { command: c } of flatten(m.body.commands)) {
      if (c.kind === 'Status') {
        const target = byKey.get(`${peer}:${c.msgRef}:${c.cmdRef}`);
        if (target) target.status = { code: c.data, seq: r.seq };
      } else if (c.kind === 'Results') {
        const target = byKey.get(`${peer}:${c.msgRef ?? ''}:${c.cmdRef}`);
        if (target) target.results.push({ seq: r.seq, summary: summarize(c) });
      }
    }
  }
  return summaries;
}

/** One message in full: pretty XML, WBXML token dump, the bytes. */
export function messageDetail(m: MessageRecord): MessageDetail {
  const encoding = sniffEncoding(m.bytes) ?? null;
  let xml = m.decoded;
  let error = m.error;
  if (xml === null && m.bytes.length > 0) {
    const d = decodeMessage(m.bytes);
    if (!d.ok) error ??= describeCodecError(d.error);
  }
  let tokens: string | null = null;
  if (encoding === 'wbxml') {
    const ins = inspectWbxml(m.bytes);
    tokens = formatTokenDump(ins.tokens, ins.ok ? undefined : ins.error);
  }
  if (xml === null && encoding === 'xml') xml = new TextDecoder().decode(m.bytes);
  return {
    id: m.id,
    sessionId: m.sessionId,
    seq: m.seq,
    direction: m.direction,
    encoding,
    xml,
    tokens,
    base64: Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength).toString('base64'),
    error,
    note: m.note,
  };
}
