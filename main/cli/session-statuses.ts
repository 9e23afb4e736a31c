/**
 * The Status commands of a logged message with what each code means (the one table in
 * main/protocol/status-codes.ts), for `dmw session show`: a reader should not need the spec open
 * to know that 425 means the ACL refused the command.
 */
import { decodeMessage } from '../protocol/codec.js';
import type { Command } from '../protocol/model.js';
import { statusMeaning } from '../protocol/status-codes.js';

export interface StatusLine {
  code: string;
  /** The table's short meaning, or null for a code the table does not define. */
  meaning: string | null;
  cmd: string;
  cmdRef: string;
  msgRef: string;
  targetRefs: string[];
}

/** Every Status of the message (top level: a Status is never nested), or [] when it does not decode. */
export function statusesOf(bytes: Uint8Array): StatusLine[] {
  if (bytes.length === 0) return [];
  const d = decodeMessage(bytes);
  if (!d.ok) return [];
  const out: StatusLine[] = [];
  for (const c of d.value.message.body.commands as Command[]) {
    if (c.kind !== 'Status') continue;
    out.push({ code: c.data.trim(), meaning: statusMeaning(c.data)?.meaning ?? null, cmd: c.cmd, cmdRef: c.cmdRef, msgRef: c.msgRef, targetRefs: c.targetRefs });
  }
  return out;
}

/** "status 404 Not found  <- Get #3 of MsgID 2  ./Vendor/x" */
export function formatStatusLine(s: StatusLine): string {
  const what = s.meaning ?? 'undefined status code';
  const ref = s.cmd === 'SyncHdr' ? `SyncHdr of MsgID ${s.msgRef}` : `${s.cmd} #${s.cmdRef} of MsgID ${s.msgRef}`;
  return `status ${s.code} ${what}  <- ${ref}${s.targetRefs.length ? `  ${s.targetRefs.join(', ')}` : ''}`;
}
