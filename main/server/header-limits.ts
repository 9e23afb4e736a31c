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
  return (
    over('SyncHdr Source LocURI (DevId)', h.source.locURI, l, 'maxDevIdLength') ??
    over('SyncHdr SessionID', h.sessionID, l, 'maxSessionIdLength') ??
    over('SyncHdr Target LocURI', h.target.locURI, l, 'maxLocUriLength') ??
    over('SyncHdr RespURI', h.respURI, l, 'maxLocUriLength') ??
    over('SyncHdr MsgID', h.msgID, l, 'maxHeaderFieldLength') ??
    over('SyncHdr VerDTD', h.verDTD, l, 'maxHeaderFieldLength') ??
    over('SyncHdr VerProto', h.verProto, l, 'maxHeaderFieldLength') ??
    over('SyncHdr Source LocName', h.source.locName, l, 'maxHeaderFieldLength') ??
    over('SyncHdr Target LocName', h.target.locName, l, 'maxHeaderFieldLength') ??
    over('SyncHdr Cred Data', h.cred?.data, l, 'maxCredLength') ??
    metaOver('SyncHdr Cred Meta', h.cred?.meta, l) ??
    metaOver('SyncHdr Meta', h.meta, l) ??
    commandIdsOver(m.body.commands, l)
  );
}

function over(field: string, v: string | undefined, l: HeaderLimits, limitName: keyof HeaderLimits): OverLimit | undefined {
  return v !== undefined && v.length > l[limitName] ? { field, length: v.length, limit: l[limitName], limitName } : undefined;
}

function metaOver(where: string, meta: Meta | undefined, l: HeaderLimits): OverLimit | undefined {
  if (!meta) return undefined;
  for (const k in meta) {
    const v: unknown = meta[k as keyof Meta];
    if (typeof v === 'string' && v.length > l.maxHeaderFieldLength) return { field: `${where} ${k}`, length: v.length, limit: l.maxHeaderFieldLength, limitName: 'maxHeaderFieldLength' };
  }
  return undefined;
}

/** CmdID, and a Status's or Results' MsgRef/CmdRef: our statuses and our bookkeeping echo them. */
function commandIdsOver(commands: readonly Command[], l: HeaderLimits): OverLimit | undefined {
  const max = l.maxHeaderFieldLength;
  for (const c of commands) {
    const o = idOver(c, 'CmdID', c.cmdID, max) ?? (c.kind === 'Status' || c.kind === 'Results' ? idOver(c, 'MsgRef', c.msgRef, max) ?? idOver(c, 'CmdRef', c.cmdRef, max) : undefined);
    if (o) return o;
    if (c.kind === 'Atomic' || c.kind === 'Sequence') {
      const inner = commandIdsOver(c.commands, l);
      if (inner) return inner;
    }
  }
  return undefined;
}

function idOver(c: Command, name: string, v: string | undefined, max: number): OverLimit | undefined {
  return v !== undefined && v.length > max ? { field: `${c.kind} ${name}`, length: v.length, limit: max, limitName: 'maxHeaderFieldLength' } : undefined;
}

export function describeOverLimit(o: OverLimit): string {
  return `${o.field} is ${o.length} characters; the limit is ${o.limit} (${o.limitName})`;
}
