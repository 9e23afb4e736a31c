/**
 * Helpers for processor tests: server packages from a few lines of XML, and views of the response.
 */
import { decodeMessage, encodeMessage } from '../../main/protocol/codec.js';
import type { Command, Item, Results, Status, SyncML } from '../../main/protocol/model.js';
import { processPackage, type ClientSessionOptions, type PackageRun } from '../../main/tree/processor/index.js';
import type { DmTree } from '../../main/tree/tree.js';

export interface PkgOptions {
  msgId?: number;
  final?: boolean;
  maxMsgSize?: number;
  maxObjSize?: number;
  hdrExtra?: string;
  sessionId?: string;
}

/** A server message: SyncHdr from the options, SyncBody from `body` (commands as XML). */
export function pkgXml(body: string, o: PkgOptions = {}): string {
  const meta =
    o.maxMsgSize !== undefined || o.maxObjSize !== undefined
      ? `<Meta>${o.maxMsgSize !== undefined ? `<MaxMsgSize xmlns="syncml:metinf">${o.maxMsgSize}</MaxMsgSize>` : ''}${o.maxObjSize !== undefined ? `<MaxObjSize xmlns="syncml:metinf">${o.maxObjSize}</MaxObjSize>` : ''}</Meta>`
      : '';
  return `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>${o.sessionId ?? '5'}</SessionID><MsgID>${o.msgId ?? 1}</MsgID>
<Target><LocURI>IMEI:356938035643809</LocURI></Target><Source><LocURI>https://dm.example.com/dm</LocURI></Source>${o.hdrExtra ?? ''}${meta}</SyncHdr>
<SyncBody>${body}${o.final === false ? '' : '<Final/>'}</SyncBody></SyncML>`;
}

export function pkg(body: string, o: PkgOptions = {}): SyncML {
  const r = decodeMessage(new TextEncoder().encode(pkgXml(body, o)));
  if (!r.ok) throw new Error(`test package does not decode: ${r.error.message} ${r.error.path ?? ''}`);
  return r.value.message;
}

export async function runPkg(tree: DmTree, body: string, options: Omit<ClientSessionOptions, 'tree'>, o: PkgOptions = {}): Promise<PackageRun & { reply: SyncML }> {
  const r = await processPackage(tree, pkg(body, o), options);
  if (r.messages.length === 0) throw new Error('no response');
  return { ...r, reply: r.messages[0]! };
}

export function statusList(m: SyncML | SyncML[]): Status[] {
  const msgs = Array.isArray(m) ? m : [m];
  return msgs.flatMap((x) => x.body.commands.filter((c): c is Status => c.kind === 'Status' && c.cmd !== 'SyncHdr'));
}

/** `Cmd CmdRef TargetRef -> code` lines: compact and readable in failures. */
export function codes(m: SyncML | SyncML[]): string[] {
  return statusList(m).map((s) => `${s.cmd} ${s.cmdRef}${s.targetRefs[0] ? ` ${s.targetRefs[0]}` : ''}${s.sourceRefs[0] ? ` <${s.sourceRefs[0]}` : ''} -> ${s.data}`);
}

export function resultsList(m: SyncML | SyncML[]): Results[] {
  const msgs = Array.isArray(m) ? m : [m];
  return msgs.flatMap((x) => x.body.commands.filter((c): c is Results => c.kind === 'Results'));
}

export function text(i: Item | undefined): string | undefined {
  const d = i?.data;
  if (d === undefined) return undefined;
  if (d.kind === 'text') return d.text;
  if (d.kind === 'binary') return new TextDecoder().decode(d.bytes);
  return '<xml>';
}

export function bytesOf(m: SyncML, encoding: 'xml' | 'wbxml' = 'xml'): Uint8Array {
  const r = encodeMessage(m, encoding);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

export function commandKinds(m: SyncML): string[] {
  return m.body.commands.map((c: Command) => (c.kind === 'Status' ? `Status(${c.cmd})` : c.kind === 'Alert' ? `Alert(${c.data})` : c.kind));
}

export const get = (id: number, uri: string): string => `<Get><CmdID>${id}</CmdID><Item><Target><LocURI>${uri}</LocURI></Target></Item></Get>`;
export const del = (id: number, uri: string): string => `<Delete><CmdID>${id}</CmdID><Item><Target><LocURI>${uri}</LocURI></Target></Item></Delete>`;
export const add = (id: number, uri: string, data?: string, format?: string, extra = ''): string =>
  `<Add><CmdID>${id}</CmdID>${extra}<Item><Target><LocURI>${uri}</LocURI></Target>${format ? `<Meta><Format xmlns="syncml:metinf">${format}</Format></Meta>` : ''}${data !== undefined ? `<Data>${data}</Data>` : ''}</Item></Add>`;
export const replace = (id: number, uri: string, data: string, format?: string, extra = ''): string =>
  `<Replace><CmdID>${id}</CmdID>${extra}<Item><Target><LocURI>${uri}</LocURI></Target>${format ? `<Meta><Format xmlns="syncml:metinf">${format}</Format></Meta>` : ''}<Data>${data}</Data></Item></Replace>`;
export const exec = (id: number, uri: string, data?: string): string =>
  `<Exec><CmdID>${id}</CmdID><Item><Target><LocURI>${uri}</LocURI></Target>${data !== undefined ? `<Data>${data}</Data>` : ''}</Item></Exec>`;
export const copy = (id: number, target: string, source: string): string =>
  `<Copy><CmdID>${id}</CmdID><Item><Target><LocURI>${target}</LocURI></Target><Source><LocURI>${source}</LocURI></Source></Item></Copy>`;
export const alert = (id: number, code: number, ...items: string[]): string =>
  `<Alert><CmdID>${id}</CmdID><Data>${code}</Data>${items.map((i) => `<Item><Data>${i}</Data></Item>`).join('')}</Alert>`;
export const atomic = (id: number, ...cmds: string[]): string => `<Atomic><CmdID>${id}</CmdID>${cmds.join('')}</Atomic>`;
export const sequence = (id: number, ...cmds: string[]): string => `<Sequence><CmdID>${id}</CmdID>${cmds.join('')}</Sequence>`;
