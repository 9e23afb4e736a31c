/**
 * Typed SyncML message -> document tree, children in the order the SyncML 1.2 DTD gives.
 */
import type { Child, Document, Element } from '../element.js';
import type { Command, Cred, Item, ItemData, Location, Meta, SyncHdr, SyncML } from '../model.js';

const s = (name: string, children: Child[] = []): Element => ({ ns: 'syncml', name, children });
const m = (name: string, children: Child[] = []): Element => ({ ns: 'metinf', name, children });
const text = (name: string, value: string): Element => s(name, [value]);

export interface WriteMessageOptions {
  /** Root namespace URI; defaults from VerDTD (1.1 -> SYNCML:SYNCML1.1, otherwise 1.2). */
  rootNamespaceUri?: string;
}

export function writeMessage(msg: SyncML, opts: WriteMessageOptions = {}): Document {
  const v11 = msg.hdr.verDTD.trim() === '1.1';
  const rootNamespaceUri = opts.rootNamespaceUri ?? (v11 ? 'SYNCML:SYNCML1.1' : 'SYNCML:SYNCML1.2');
  const body = s('SyncBody', msg.body.commands.map(command));
  if (msg.body.final) body.children.push(s('Final'));
  return {
    info: { wbxmlVersion: 2, publicId: v11 ? 0x0fd3 : 0x1201, rootNamespaceUri },
    root: s('SyncML', [syncHdr(msg.hdr), body]),
  };
}

function syncHdr(h: SyncHdr): Element {
  const e = s('SyncHdr', [
    text('VerDTD', h.verDTD),
    text('VerProto', h.verProto),
    text('SessionID', h.sessionID),
    text('MsgID', h.msgID),
    location('Target', h.target),
    location('Source', h.source),
  ]);
  if (h.respURI !== undefined) e.children.push(text('RespURI', h.respURI));
  if (h.noResp) e.children.push(s('NoResp'));
  if (h.cred) e.children.push(cred(h.cred));
  if (h.meta) e.children.push(meta(h.meta));
  return e;
}

function command(c: Command): Element {
  const e = s(c.kind, [text('CmdID', c.cmdID)]);
  const k = e.children;
  switch (c.kind) {
    case 'Add':
    case 'Copy':
    case 'Delete':
    case 'Get':
    case 'Replace':
      if (c.noResp) k.push(s('NoResp'));
      if (c.cred) k.push(cred(c.cred));
      if (c.meta) k.push(meta(c.meta));
      for (const i of c.items) k.push(item(i));
      break;
    case 'Alert':
      if (c.noResp) k.push(s('NoResp'));
      if (c.cred) k.push(cred(c.cred));
      if (c.data !== undefined) k.push(text('Data', c.data));
      if (c.correlator !== undefined) k.push(text('Correlator', c.correlator));
      for (const i of c.items) k.push(item(i));
      break;
    case 'Exec':
      if (c.noResp) k.push(s('NoResp'));
      if (c.cred) k.push(cred(c.cred));
      if (c.meta) k.push(meta(c.meta));
      if (c.correlator !== undefined) k.push(text('Correlator', c.correlator));
      for (const i of c.items) k.push(item(i));
      break;
    case 'Atomic':
    case 'Sequence':
      if (c.noResp) k.push(s('NoResp'));
      if (c.meta) k.push(meta(c.meta));
      for (const inner of c.commands) k.push(command(inner));
      break;
    case 'Results':
      if (c.msgRef !== undefined) k.push(text('MsgRef', c.msgRef));
      k.push(text('CmdRef', c.cmdRef));
      if (c.meta) k.push(meta(c.meta));
      for (const r of c.targetRefs) k.push(text('TargetRef', r));
      for (const r of c.sourceRefs) k.push(text('SourceRef', r));
      for (const i of c.items) k.push(item(i));
      break;
    case 'Status':
      k.push(text('MsgRef', c.msgRef), text('CmdRef', c.cmdRef), text('Cmd', c.cmd));
      for (const r of c.targetRefs) k.push(text('TargetRef', r));
      for (const r of c.sourceRefs) k.push(text('SourceRef', r));
      if (c.cred) k.push(cred(c.cred));
      if (c.chal) k.push(s('Chal', [meta(c.chal.meta)]));
      k.push(text('Data', c.data));
      for (const i of c.items) k.push(item(i));
      break;
  }
  return e;
}

function item(i: Item): Element {
  const e = s('Item');
  if (i.target) e.children.push(location('Target', i.target));
  if (i.source) e.children.push(location('Source', i.source));
  if (i.meta) e.children.push(meta(i.meta));
  if (i.data) e.children.push(s('Data', dataChildren(i.data)));
  if (i.moreData) e.children.push(s('MoreData'));
  return e;
}

function dataChildren(d: ItemData): Child[] {
  switch (d.kind) {
    case 'text':
      return d.text === '' ? [] : [d.text];
    case 'binary':
      return d.bytes.length === 0 ? [] : [d.bytes];
    case 'xml':
      return [...d.elements];
  }
}

function location(name: string, l: Location): Element {
  const e = s(name, [text('LocURI', l.locURI)]);
  if (l.locName !== undefined) e.children.push(text('LocName', l.locName));
  return e;
}

function cred(c: Cred): Element {
  const e = s('Cred');
  if (c.meta) e.children.push(meta(c.meta));
  e.children.push(text('Data', c.data));
  return e;
}

/** MetInf children in the MetInf DTD's order. */
function meta(x: Meta): Element {
  const k: Element[] = [];
  if (x.fieldLevel) k.push(m('FieldLevel'));
  if (x.format !== undefined) k.push(m('Format', [x.format]));
  if (x.type !== undefined) k.push(m('Type', [x.type]));
  if (x.mark !== undefined) k.push(m('Mark', [x.mark]));
  if (x.size !== undefined) k.push(m('Size', [x.size]));
  if (x.anchor) {
    const a = m('Anchor');
    if (x.anchor.last !== undefined) a.children.push(m('Last', [x.anchor.last]));
    a.children.push(m('Next', [x.anchor.next]));
    k.push(a);
  }
  if (x.version !== undefined) k.push(m('Version', [x.version]));
  if (x.nextNonce !== undefined) k.push(m('NextNonce', [x.nextNonce]));
  if (x.maxMsgSize !== undefined) k.push(m('MaxMsgSize', [x.maxMsgSize]));
  if (x.maxObjSize !== undefined) k.push(m('MaxObjSize', [x.maxObjSize]));
  for (const emi of x.emi ?? []) k.push(m('EMI', [emi]));
  if (x.mem) {
    const mem = m('Mem');
    if (x.mem.sharedMem) mem.children.push(m('SharedMem'));
    mem.children.push(m('FreeMem', [x.mem.freeMem]), m('FreeID', [x.mem.freeID]));
    k.push(mem);
  }
  return s('Meta', k);
}
