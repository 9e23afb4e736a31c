/**
 * Typed SyncML DM 1.1.2 / 1.2 / 1.3 messages.
 *
 * Wire values (CmdID, MsgID, sizes, status codes) stay strings so that a decoded message re-encodes
 * to the same document: a handset that sends `<MsgID>01</MsgID>` must see `01` in our MsgRef.
 * Helpers below parse the numeric ones where a caller needs a number.
 */
import type { Element } from './element.js';

export const SYNCML_COMMANDS = [
  'Add', 'Alert', 'Atomic', 'Copy', 'Delete', 'Exec', 'Get', 'Replace', 'Sequence', 'Results', 'Status',
] as const;
export type CommandName = (typeof SYNCML_COMMANDS)[number];

export interface SyncML {
  hdr: SyncHdr;
  body: SyncBody;
}

export interface SyncHdr {
  verDTD: string; // "1.1" | "1.2" (DM 1.3 still says 1.2)
  verProto: string; // "DM/1.1" | "DM/1.2" | "DM/1.3"
  sessionID: string;
  msgID: string;
  target: Location;
  source: Location;
  respURI?: string;
  noResp?: boolean;
  cred?: Cred;
  meta?: Meta;
}

export interface Location {
  locURI: string;
  locName?: string;
}

export interface Cred {
  meta?: Meta;
  data: string;
}

export interface Chal {
  meta: Meta;
}

/** Every MetInf (syncml:metinf 1.2) field a Meta may carry. */
export interface Meta {
  format?: string;
  type?: string;
  mark?: string;
  size?: string;
  nextNonce?: string;
  version?: string;
  maxMsgSize?: string;
  maxObjSize?: string;
  fieldLevel?: boolean;
  anchor?: { last?: string; next: string };
  mem?: { sharedMem?: boolean; freeMem: string; freeID: string };
  /** Experimental meta information: opaque to us, kept in order. */
  emi?: string[];
}

/** Item data: text, WBXML OPAQUE bytes (byte-exact), or embedded XML such as a TNDS MgmtTree. */
export type ItemData =
  | { kind: 'text'; text: string }
  | { kind: 'binary'; bytes: Uint8Array }
  | { kind: 'xml'; elements: Element[] };

export interface Item {
  target?: Location;
  source?: Location;
  meta?: Meta;
  data?: ItemData;
  moreData?: boolean;
}

interface CommandBase {
  cmdID: string;
  noResp?: boolean;
}

/** Add, Copy, Delete, Get, Replace: a command on a list of items. */
export interface ItemCommand extends CommandBase {
  kind: 'Add' | 'Copy' | 'Delete' | 'Get' | 'Replace';
  cred?: Cred;
  meta?: Meta;
  items: Item[];
}

export interface Alert extends CommandBase {
  kind: 'Alert';
  cred?: Cred;
  /** The alert code, e.g. "1201". */
  data?: string;
  correlator?: string;
  items: Item[];
}

export interface Exec extends CommandBase {
  kind: 'Exec';
  cred?: Cred;
  meta?: Meta;
  correlator?: string;
  items: Item[];
}

/** Atomic and Sequence hold commands, nested to any depth the limits allow. */
export interface Container extends CommandBase {
  kind: 'Atomic' | 'Sequence';
  meta?: Meta;
  commands: Command[];
}

export interface Results extends CommandBase {
  kind: 'Results';
  msgRef?: string;
  cmdRef: string;
  meta?: Meta;
  targetRefs: string[];
  sourceRefs: string[];
  items: Item[];
}

export interface Status extends CommandBase {
  kind: 'Status';
  msgRef: string;
  cmdRef: string;
  /** The name of the command this status answers, or "SyncHdr". */
  cmd: string;
  targetRefs: string[];
  sourceRefs: string[];
  cred?: Cred;
  chal?: Chal;
  /** The status code, e.g. "200". */
  data: string;
  items: Item[];
}

export type Command = ItemCommand | Alert | Exec | Container | Results | Status;

export interface SyncBody {
  commands: Command[];
  final: boolean;
}

export function statusCode(s: Status): number {
  return Number.parseInt(s.data, 10);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * What an item's data means, whichever way it travelled. WBXML may carry any Data as OPAQUE bytes
 * (libdmclient sends every leaf so); the Format says what they are (OMA DM 1.2 representation
 * §5.1.5 and TND §7: chr, the default, is text; b64 is the base64 text itself). So binary data
 * whose Format is not bin and whose bytes are valid UTF-8 is text: a Get of ./DevInfo/Mod reads
 * "test model" after a WBXML session as after an XML one. Only real binary stays bytes.
 */
export function itemValue(item: Item, fallbackFormat?: string | null): { kind: 'text'; text: string } | { kind: 'binary'; bytes: Uint8Array } | undefined {
  const d = item.data;
  if (!d || d.kind === 'xml') return undefined;
  if (d.kind === 'text') return d;
  const format = (item.meta?.format ?? fallbackFormat ?? 'chr').trim().toLowerCase();
  if (format !== 'bin') {
    try {
      return { kind: 'text', text: strictUtf8.decode(d.bytes) };
    } catch {
      // Not UTF-8: bytes, whatever the Format claims.
    }
  }
  return d;
}

/** Text of an item's data whatever its kind (binary decoded as UTF-8), for display and comparisons. */
export function itemText(item: Item): string | undefined {
  const d = item.data;
  if (!d) return undefined;
  if (d.kind === 'text') return d.text;
  if (d.kind === 'binary') return new TextDecoder().decode(d.bytes);
  return undefined;
}
