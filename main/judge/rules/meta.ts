/**
 * Meta Format against the Data it describes (DM TND §7.7.2 Format, SyncML MetaInfo formats): the
 * format is one that exists, and b64, int, bool, node, bin and chr data look like what they claim.
 * Chunks of a large object are judged whole elsewhere: a single chunk of base64 need not be base64.
 */
import type { Item } from '../../protocol/model.js';
import { fromBase64 } from '../../protocol/binary.js';
import { itemPath, itemsOf, type CmdView, type MsgView, type SessionModel } from '../session-model.js';
import { largeObjects } from './large-objects.js';
import { decoded, type Checks, type Report } from './rule.js';

const FORMATS = new Set(['b64', 'bin', 'bool', 'chr', 'int', 'node', 'null', 'xml', 'date', 'time', 'float']);
const DATA_COMMANDS = new Set(['Add', 'Replace', 'Results', 'Exec', 'Alert']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

interface Valued {
  m: MsgView;
  c: CmdView;
  i: number;
  item: Item;
  /** The Format in force: the item's, else the command's; undefined means the default, chr. */
  format: string | undefined;
  text: string | undefined;
  chunk: boolean;
}

function* valued(s: SessionModel): Generator<Valued> {
  const chunks = new Set<string>();
  for (const lo of largeObjects(s)) for (const p of lo.chunks) chunks.add(`${p.cmd.msg.index}:${p.cmd.msg.cmds.indexOf(p.cmd)}:${p.index}`);
  for (const m of decoded(s)) {
    for (const c of m.cmds) {
      if (!DATA_COMMANDS.has(c.command.kind)) continue;
      const cmdMeta = 'meta' in c.command ? c.command.meta : undefined;
      for (const [i, item] of itemsOf(c.command).entries()) {
        const f = (item.meta?.format ?? cmdMeta?.format)?.trim();
        const d = item.data;
        const text = d?.kind === 'text' ? d.text : d?.kind === 'binary' ? decodeText(d.bytes) : undefined;
        yield { m, c, i, item, format: f, text, chunk: chunks.has(`${m.index}:${m.cmds.indexOf(c)}:${i}`) };
      }
    }
  }
}

function decodeText(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

function valueCheck(format: string, ok: (text: string) => boolean, what: string) {
  return (s: SessionModel, report: Report): void => {
    for (const v of valued(s)) {
      if (v.format !== format || v.chunk || v.text === undefined || v.item.data?.kind === 'xml') continue;
      if (v.text.trim() === '' && format !== 'b64') continue; // an empty value is no value
      if (!ok(v.text.trim())) report(v.m, `${itemPath(v.c, v.i)}/Data`, `Format ${format} but the Data "${clip(v.text)}" is not ${what}`);
    }
  };
}

function clip(t: string): string {
  const one = t.replace(/\s+/g, ' ');
  return one.length > 40 ? `${one.slice(0, 39)}…` : one;
}

export const metaChecks: Checks = {
  'meta.format-known': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        const cm = 'meta' in c.command ? c.command.meta : undefined;
        if (cm?.format !== undefined && !FORMATS.has(cm.format.trim())) report(m, `${c.path}/Meta/Format`, `Format "${cm.format}" is not a DM format (b64, bin, bool, chr, int, node, null, xml, date, time, float)`);
        itemsOf(c.command).forEach((it, i) => {
          const f = it.meta?.format;
          if (f !== undefined && !FORMATS.has(f.trim())) report(m, `${itemPath(c, i)}/Meta/Format`, `Format "${f}" is not a DM format (b64, bin, bool, chr, int, node, null, xml, date, time, float)`);
        });
      }
    }
  },

  'meta.b64': valueCheck('b64', (t) => fromBase64(t) !== undefined, 'base64'),
  'meta.int': valueCheck('int', (t) => /^[+-]?\d+$/.test(t), 'an integer'),
  'meta.bool': valueCheck('bool', (t) => t === 'true' || t === 'false', 'true or false'),

  'meta.node': (s, report) => {
    for (const v of valued(s)) {
      // A device's Replace reports DevInfo as a Get's Results would: an interior node with its child list.
      if (v.format !== 'node' || v.m.from !== 'server' || (v.c.command.kind !== 'Add' && v.c.command.kind !== 'Replace')) continue;
      const d = v.item.data;
      const empty = !d || (d.kind === 'text' && d.text.trim() === '') || (d.kind === 'binary' && d.bytes.length === 0);
      if (!empty) report(v.m, `${itemPath(v.c, v.i)}/Data`, `Format node (an interior node) with Data: an interior node holds no value`);
    }
  },

  'meta.bin-xml': (s, report) => {
    for (const v of valued(s)) {
      if (v.format === 'bin' && v.m.encoding === 'xml' && v.item.data) report(v.m, `${itemPath(v.c, v.i)}/Meta/Format`, 'binary data sent over XML says Format bin: over XML it travels as Format b64');
    }
  },

  'meta.chr': (s, report) => {
    for (const v of valued(s)) {
      if ((v.format ?? 'chr') !== 'chr' || v.chunk || v.item.data?.kind !== 'binary' || v.text !== undefined) continue;
      report(v.m, `${itemPath(v.c, v.i)}/Data`, `Format ${v.format ?? 'chr (the default)'} but the Data is ${v.item.data.bytes.length} bytes that are not UTF-8 text`);
    }
  },
};
