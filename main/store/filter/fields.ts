/**
 * The display filter language's fields: name, type, what it reads in the message index, and the
 * line of help the filter bar shows. Pure (no Node): the renderer may import it too.
 *
 * Levels say what a field describes, and so how a filter is evaluated: a message matches when the
 * filter holds for the message together with one of its commands (message and session fields are
 * the same for all of them; a message without commands is evaluated with every command field absent).
 * Finding fields ask whether the message has such a finding.
 */
export type FieldType = 'string' | 'number';
export type FieldLevel = 'message' | 'command' | 'finding' | 'text';

export interface FieldDef {
  name: string;
  type: FieldType;
  level: FieldLevel;
  /** The SQL expression over the aliases m (msg_index), s (sessions), c (cmd_index); never user text. */
  column: string;
  help: string;
  /** Other names accepted for it. */
  aliases?: readonly string[];
}

export const FIELDS: readonly FieldDef[] = [
  { name: 'dev', type: 'string', level: 'message', column: 's.device', help: 'DevId of the session\'s device, e.g. dev == "IMEI:356938035643809"', aliases: ['device', 'devid'] },
  { name: 'session', type: 'number', level: 'message', column: 'm.session_id', help: 'the stored session\'s id (the Sessions view\'s #)' },
  { name: 'sessionid', type: 'string', level: 'message', column: 's.dm_session_id', help: 'the SyncML SessionID in the messages\' header' },
  { name: 'state', type: 'string', level: 'message', column: 's.state', help: 'the session\'s state: active, done, aborted, timeout, interrupted, failed, rejected, imported' },
  { name: 'msgid', type: 'string', level: 'message', column: 'm.msg_id', help: 'the message\'s MsgID', aliases: ['msg'] },
  { name: 'seq', type: 'number', level: 'message', column: 'm.seq', help: 'the message\'s place in its session (1, 2, ...)' },
  { name: 'dir', type: 'string', level: 'message', column: 'm.dir', help: 'in (from the device) or out (from the server)' },
  { name: 'size', type: 'number', level: 'message', column: 'm.size', help: 'bytes on the wire' },
  { name: 'enc', type: 'string', level: 'message', column: 'm.enc', help: 'encoding: xml, wbxml or json (DM 2.0)', aliases: ['encoding'] },
  { name: 'auth', type: 'string', level: 'message', column: 's.auth_type', help: 'how the session authenticates the device (the server\'s client auth type: basic, md5, hmac, none)' },
  { name: 'cred', type: 'string', level: 'message', column: 'm.cred', help: 'the credential type this message carries in its header (basic, md5, ...); absent when it carries none' },
  { name: 'time', type: 'number', level: 'message', column: 'm.at_ms', help: 'when it was received or sent, ms since 1970 (UTC)' },
  { name: 'worst', type: 'number', level: 'message', column: 'm.worst', help: 'the highest Status code in the message' },
  { name: 'commands', type: 'string', level: 'message', column: 'm.commands', help: 'the command summary as listed, e.g. commands contains "Get"' },
  { name: 'findings', type: 'number', level: 'message', column: '(m.f_error + m.f_warning + m.f_note)', help: 'how many expert findings the message has (once its session was judged)' },
  { name: 'cmd', type: 'string', level: 'command', column: 'c.cmd', help: 'a command: Add, Alert, Atomic, Copy, Delete, Exec, Get, Replace, Sequence, Results, Status', aliases: ['command'] },
  { name: 'cmdid', type: 'string', level: 'command', column: 'c.cmd_id', help: 'the command\'s CmdID' },
  { name: 'uri', type: 'string', level: 'command', column: 'c.uri', help: 'an item\'s target or source LocURI (for a Status, its TargetRef)' },
  { name: 'status', type: 'number', level: 'command', column: 'c.status', help: 'a Status\'s code, or for another command the code of the Status that answered it' },
  { name: 'data', type: 'string', level: 'text', column: 'c.data', help: 'an item\'s data (first 16 KiB, searched with the content index: data contains "...")' },
  { name: 'finding', type: 'string', level: 'finding', column: 'f.rule', help: 'an expert finding\'s rule id (once the session was judged)', aliases: ['rule'] },
  { name: 'severity', type: 'string', level: 'finding', column: 'f.severity', help: 'an expert finding\'s severity: error, warning, note' },
];

const BY_NAME = new Map<string, FieldDef>();
for (const f of FIELDS) {
  BY_NAME.set(f.name, f);
  for (const a of f.aliases ?? []) BY_NAME.set(a, f);
}

export function fieldByName(name: string): FieldDef | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** Every name a field may be written as (for suggestions). */
export function fieldNames(): string[] {
  return [...BY_NAME.keys()];
}

/** The field list for packets.fields, aliases named in the help. */
export function fieldHelp(): { name: string; type: FieldType; help: string }[] {
  return FIELDS.map((f) => ({ name: f.name, type: f.type, help: f.aliases?.length ? `${f.help} (also: ${f.aliases.join(', ')})` : f.help }));
}
