/** The token ids of the SyncML (code page 0) and MetInf (code page 1) elements the fast path reads. */
import { TAG_TOKENS } from '../wbxml/tables.js';

const s = (name: string): number => TAG_TOKENS.syncml.get(name)!;
const m = (name: string): number => TAG_TOKENS.metinf.get(name)!;
// Code page 0 (SyncML).
export const ADD = s('Add'), ALERT = s('Alert'), ATOMIC = s('Atomic'), CHAL = s('Chal'), CMD = s('Cmd'), CMD_ID = s('CmdID');
export const CMD_REF = s('CmdRef'), COPY = s('Copy'), CRED = s('Cred'), DATA = s('Data'), DELETE = s('Delete'), EXEC = s('Exec');
export const FINAL = s('Final'), GET = s('Get'), ITEM = s('Item'), LOC_NAME = s('LocName'), LOC_URI = s('LocURI'), META = s('Meta');
export const MSG_ID = s('MsgID'), MSG_REF = s('MsgRef'), NO_RESP = s('NoResp'), REPLACE = s('Replace'), RESP_URI = s('RespURI');
export const RESULTS = s('Results'), SEQUENCE = s('Sequence'), SESSION_ID = s('SessionID'), SOURCE = s('Source');
export const SOURCE_REF = s('SourceRef'), STATUS = s('Status'), SYNC_BODY = s('SyncBody'), SYNC_HDR = s('SyncHdr');
export const SYNCML = s('SyncML'), TARGET = s('Target'), TARGET_REF = s('TargetRef'), VER_DTD = s('VerDTD'), VER_PROTO = s('VerProto');
export const MORE_DATA = s('MoreData'), CORRELATOR = s('Correlator');
// Code page 1 (MetInf).
export const ANCHOR = m('Anchor'), EMI = m('EMI'), FORMAT = m('Format'), FREE_ID = m('FreeID'), FREE_MEM = m('FreeMem'), LAST = m('Last');
export const MARK = m('Mark'), MAX_MSG_SIZE = m('MaxMsgSize'), MEM = m('Mem'), MET_INF = m('MetInf'), NEXT = m('Next');
export const NEXT_NONCE = m('NextNonce'), SHARED_MEM = m('SharedMem'), SIZE = m('Size'), TYPE = m('Type'), VERSION = m('Version');
export const MAX_OBJ_SIZE = m('MaxObjSize'), FIELD_LEVEL = m('FieldLevel');
