/**
 * Small message fragments for the rule catalogue's good and bad examples: a session is a list of
 * messages, each a SyncBody written as XML (with helpers for the usual commands) and a SyncHdr
 * filled in with defaults (DM/1.2, SessionID 1, MsgIDs counting from 1 per sender, the device and
 * server addresses below) unless the example overrides them. `exampleInput` turns one into the
 * messages the checker takes, as a server's log would hold them.
 */
import { encodeDocument } from '../protocol/codec.js';
import { isElement, type Element } from '../protocol/element.js';
import { parseXml } from '../protocol/xml/parse.js';
import type { JudgeMessage, Role } from './types.js';

export const DEVICE = 'IMEI:493005100592800';
export const SERVER = 'http://dm.example/manage';

export interface HdrOpts {
  msgID?: string;
  sessionID?: string;
  verDTD?: string;
  verProto?: string;
  target?: string;
  source?: string;
  respURI?: string;
  /** A whole `<Cred>...</Cred>` element. */
  cred?: string;
  /** The content of the SyncHdr's Meta, e.g. `<MaxMsgSize>2000</MaxMsgSize>`. */
  meta?: string;
}

export interface ExampleMessage {
  from: Role;
  body?: string;
  hdr?: HdrOpts;
  /** Bytes sent as they are (for messages that are not SyncML at all). */
  raw?: string;
  /** Where the device sent it. */
  url?: string;
  /** Sent as WBXML (the only way binary Data can travel unencoded). */
  wbxml?: boolean;
}

export type Example = readonly ExampleMessage[];

/** A message from the device (client). */
export const c = (body: string, hdr: HdrOpts = {}, url?: string): ExampleMessage => ({ from: 'client', body, hdr, ...(url ? { url } : {}) });
/** A message from the server. */
export const s = (body: string, hdr: HdrOpts = {}): ExampleMessage => ({ from: 'server', body, hdr });
export const raw = (from: Role, text: string): ExampleMessage => ({ from, raw: text });
/** The same message sent as WBXML. */
export const asWbxml = (m: ExampleMessage): ExampleMessage => ({ ...m, wbxml: true });

const HEX_MARK = '$hex:';
/** Binary Data (WBXML OPAQUE) in a WBXML example: the bytes, in hex. */
export const hex = (h: string): string => `${HEX_MARK}${h}`;

export const FINAL = '<Final/>';

export function meta(m: { format?: string; type?: string; size?: number | string; nextNonce?: string }): string {
  return `<Meta>${m.format !== undefined ? `<Format>${m.format}</Format>` : ''}${m.type !== undefined ? `<Type>${m.type}</Type>` : ''}${m.size !== undefined ? `<Size>${m.size}</Size>` : ''}${m.nextNonce !== undefined ? `<NextNonce>${m.nextNonce}</NextNonce>` : ''}</Meta>`;
}

export interface ItemSpec {
  target?: string;
  source?: string;
  data?: string;
  meta?: string;
  more?: boolean;
}

export function item(i: ItemSpec): string {
  return `<Item>${i.target !== undefined ? `<Target><LocURI>${i.target}</LocURI></Target>` : ''}${i.source !== undefined ? `<Source><LocURI>${i.source}</LocURI></Source>` : ''}${i.meta ?? ''}${i.data !== undefined ? `<Data>${i.data}</Data>` : ''}${i.more ? '<MoreData/>' : ''}</Item>`;
}

/** Any command: kind, CmdID, then the rest of its content as XML. */
export const cmd = (kind: string, id: number, content: string): string => `<${kind}><CmdID>${id}</CmdID>${content}</${kind}>`;

export const get = (id: number, uri: string): string => cmd('Get', id, item({ target: uri }));
export const del = (id: number, uri: string): string => cmd('Delete', id, item({ target: uri }));
export const exec = (id: number, uri: string, extra = ''): string => cmd('Exec', id, `${extra}${item({ target: uri })}`);
export const replace = (id: number, uri: string, data: string, metaXml = ''): string => cmd('Replace', id, item({ target: uri, data, meta: metaXml }));
export const add = (id: number, uri: string, data: string | undefined, metaXml = ''): string =>
  cmd('Add', id, item({ target: uri, meta: metaXml, ...(data !== undefined ? { data } : {}) }));
export const alert = (id: number, code: string, items = ''): string => `<Alert><CmdID>${id}</CmdID><Data>${code}</Data>${items}</Alert>`;

export function status(id: number, msgRef: number | string, cmdRef: number | string, cmdName: string, code: number | string, extra = ''): string {
  return `<Status><CmdID>${id}</CmdID><MsgRef>${msgRef}</MsgRef><CmdRef>${cmdRef}</CmdRef><Cmd>${cmdName}</Cmd>${extra}<Data>${code}</Data></Status>`;
}

export const hdrStatus = (id: number, msgRef: number | string, code: number | string, extra = ''): string => status(id, msgRef, 0, 'SyncHdr', code, extra);

export function results(id: number, msgRef: number | string, cmdRef: number | string, items: string, metaXml = ''): string {
  return `<Results><CmdID>${id}</CmdID><MsgRef>${msgRef}</MsgRef><CmdRef>${cmdRef}</CmdRef>${metaXml}${items}</Results>`;
}

export const chal = (type: string, nonce?: string): string =>
  `<Chal>${meta({ format: 'b64', type, ...(nonce !== undefined ? { nextNonce: nonce } : {}) })}</Chal>`;

export const cred = (type: string, data: string, format: string | undefined = 'b64'): string =>
  `<Cred>${meta({ type, ...(format !== undefined ? { format } : {}) })}<Data>${data}</Data></Cred>`;

/** Basic credentials of `lab:pw`. */
export const BASIC_CRED = cred('syncml:auth-basic', 'bGFiOnB3');

export function devInfo(id: number, nodes: readonly string[] = ['DevId', 'Man', 'Mod', 'DmV', 'Lang']): string {
  const value: Record<string, string> = { DevId: DEVICE, Man: 'Acme', Mod: 'Phone 1', DmV: '1.2', Lang: 'en-US' };
  return cmd('Replace', id, nodes.map((n) => item({ source: `./DevInfo/${n}`, data: value[n] ?? 'x' })).join(''));
}

/** Package 1: client-initiated Alert 1201 and DevInfo with CmdIDs from `first`, and Final. */
export const pkg1 = (first = 1): string => `${alert(first, '1201')}${devInfo(first + 1)}${FINAL}`;
export const PKG1 = pkg1(1);

/**
 * The server's statuses for a package 1 in client message `msgRef` whose Alert has CmdID `alertId`
 * (and DevInfo the next), with the statuses' own CmdIDs from `first`.
 */
export const P2 = (first = 1, msgRef = 1, hdrCode = 212, alertId = 1): string =>
  `${hdrStatus(first, msgRef, hdrCode)}${status(first + 1, msgRef, alertId, 'Alert', 200)}${status(first + 2, msgRef, alertId + 1, 'Replace', 200)}`;

/** Package 1 then a package 2 carrying `commands` (CmdIDs from 4) after the statuses. */
export const opening = (commands: string, hdr: HdrOpts = {}): ExampleMessage[] => [c(PKG1), s(`${P2()}${commands}${FINAL}`, hdr)];

function header(m: ExampleMessage, msgID: string): string {
  const h = m.hdr ?? {};
  const fromClient = m.from === 'client';
  const target = h.target ?? (fromClient ? SERVER : DEVICE);
  const source = h.source ?? (fromClient ? DEVICE : SERVER);
  return `<SyncHdr><VerDTD>${h.verDTD ?? '1.2'}</VerDTD><VerProto>${h.verProto ?? 'DM/1.2'}</VerProto><SessionID>${h.sessionID ?? '1'}</SessionID>`
    + `<MsgID>${h.msgID ?? msgID}</MsgID><Target><LocURI>${target}</LocURI></Target><Source><LocURI>${source}</LocURI></Source>`
    + `${h.respURI !== undefined ? `<RespURI>${h.respURI}</RespURI>` : ''}${h.cred ?? ''}${h.meta !== undefined ? `<Meta>${h.meta}</Meta>` : ''}</SyncHdr>`;
}

/** The XML of each message, MsgIDs counted per sender. */
export function exampleXml(ex: Example): string[] {
  const count: Record<Role, number> = { client: 0, server: 0 };
  return ex.map((m) => {
    const id = String(++count[m.from]);
    if (m.raw !== undefined) return m.raw;
    return `<SyncML xmlns="SYNCML:SYNCML1.2">${header(m, id)}<SyncBody>${m.body ?? ''}</SyncBody></SyncML>`;
  });
}

/** The example as a server's log: device messages `in`, server messages `out`. */
export function exampleInput(ex: Example): JudgeMessage[] {
  const xml = exampleXml(ex);
  return ex.map((m, i) => ({
    direction: m.from === 'client' ? 'in' : 'out',
    bytes: m.wbxml ? toWbxml(xml[i]!) : new TextEncoder().encode(xml[i]!),
    ...(m.url !== undefined ? { url: m.url } : {}),
  }));
}

function toWbxml(xml: string): Uint8Array {
  const doc = parseXml(xml);
  if (!doc.ok) throw new Error(`example is not XML: ${doc.error.message}`);
  const stack: Element[] = [doc.value.root];
  while (stack.length > 0) {
    const e = stack.pop()!;
    e.children = e.children.map((k) => (typeof k === 'string' && k.startsWith(HEX_MARK) ? new Uint8Array(Buffer.from(k.slice(HEX_MARK.length), 'hex')) : k));
    for (const k of e.children) if (isElement(k)) stack.push(k);
  }
  const w = encodeDocument(doc.value, 'wbxml');
  if (!w.ok) throw new Error(`example does not encode as WBXML: ${w.error.message}`);
  return w.value;
}
