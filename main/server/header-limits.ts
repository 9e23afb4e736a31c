/**
 * Length limits on what a device puts in its SyncHdr, and on the command ids its statuses echo.
 * Everything here would otherwise travel back: DevId and SessionID in our SyncHdr, Target/Source
 * in the SyncHdr Status, CmdIDs in every Status. Bounding them keeps our answers within the
 * device's MaxMsgSize whatever it sent, and a DevId of a megabyte out of the store. The result
 * names the field and its length, never its value.
 */
import type { Command, Meta, SyncML } from '../protocol/model.js';
import type { ServerLimits } from './config.js';

export type HeaderLimits = Pick<ServerLimits, 'maxDevIdLength' | 'maxSessionIdLength' | 'maxLocUriLength' | 'maxHeaderFieldLength' | 'maxCredLength'>;

export interface OverLimit {
  /** Where, as a reader of the message would name it (e.g. "SyncHdr Source LocURI (DevId)"). */
  field: string;
  length: number;
  limit: number;
  /** The limit's name in config.ts. */
  limitName: keyof HeaderLimits;
}

/** The first value over its limit, or undefined when every one fits. */
export function checkHeaderLimits(m: SyncML, l: HeaderLimits): OverLimit | undefined {
  const h = m.hdr;
  const field = (name: string, v: string | undefined, limitName: keyof HeaderLimits): OverLimit | undefined =>
    v !== undefined && v.length > l[limitName] ? { field: name, length: v.length, limit: l[limitName], limitName } : undefined;
  return (
    field('SyncHdr Source LocURI (DevId)', h.source.locURI, 'maxDevIdLength') ??
    field('SyncHdr SessionID', h.sessionID, 'maxSessionIdLength') ??
    field('SyncHdr Target LocURI', h.target.locURI, 'maxLocUriLength') ??
    field('SyncHdr RespURI', h.respURI, 'maxLocUriLength') ??
    field('SyncHdr MsgID', h.msgID, 'maxHeaderFieldLength') ??
    field('SyncHdr VerDTD', h.verDTD, 'maxHeaderFieldLength') ??
    field('SyncHdr VerProto', h.verProto, 'maxHeaderFieldLength') ??
    field('SyncHdr Source LocName', h.source.locName, 'maxHeaderFieldLength') ??
    field('SyncHdr Target LocName', h.target.locName, 'maxHeaderFieldLength') ??
    field('SyncHdr Cred Data', h.cred?.data, 'maxCredLength') ??
    metaOver('SyncHdr Cred Meta', h.cred?.meta, l) ??
    metaOver('SyncHdr Meta', h.meta, l) ??
    commandIdsOver(m.body.commands, l)
  );
}

function metaOver(where: string, meta: Meta | undefined, l: HeaderLimits): OverLimit | undefined {
  if (!meta) return undefined;
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v === 'string' && v.length > l.maxHeaderFieldLength) return { field: `${where} ${k}`, length: v.length, limit: l.maxHeaderFieldLength, limitName: 'maxHeaderFieldLength' };
  }
  return undefined;
}

/** CmdID, and a Status's or Results' MsgRef/CmdRef: our statuses and our bookkeeping echo them. */
function commandIdsOver(commands: readonly Command[], l: HeaderLimits): OverLimit | undefined {
  const max = l.maxHeaderFieldLength;
  for (const c of commands) {
    const ids: [string, string | undefined][] = [['CmdID', c.cmdID]];
    if (c.kind === 'Status' || c.kind === 'Results') ids.push(['MsgRef', c.msgRef], ['CmdRef', c.cmdRef]);
    for (const [name, v] of ids) if (v !== undefined && v.length > max) return { field: `${c.kind} ${name}`, length: v.length, limit: max, limitName: 'maxHeaderFieldLength' };
    if (c.kind === 'Atomic' || c.kind === 'Sequence') {
      const inner = commandIdsOver(c.commands, l);
      if (inner) return inner;
    }
  }
  return undefined;
}

export function describeOverLimit(o: OverLimit): string {
  return `${o.field} is ${o.length} characters; the limit is ${o.limit} (${o.limitName})`;
}
