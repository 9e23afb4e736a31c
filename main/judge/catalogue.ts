/**
 * The rule catalogue: every expert rule with its stable id, severity, the spec clause it comes from,
 * what it requires in one line, and a session that keeps it (good) and one that breaks it (bad).
 * Clauses cite OMA DM 1.2 (sections as in the 1.2 and 1.2.1 approved documents): the Protocol
 * (§6 multiple messages, §7 large objects, §8 packages, §9 authentication), the Representation
 * Protocol (§6.1 common elements, §6.5.1 Status, §6.6 commands, §7 alert codes), Tree and
 * Description (§5 URIs, §7.7.2 Format) and Standardized Objects (§5.3.2 DevInfo, §5.3.3 DevDetail).
 */
import {
  add, alert, asWbxml, BASIC_CRED, c, chal, cmd, cred, del, DEVICE, devInfo, exec, FINAL, get, hdrStatus, hex, item, meta,
  opening, P2, PKG1, pkg1, raw, replace, results, s, SERVER, status, type Example, type ExampleMessage,
} from './example-kit.js';
import type { RuleInfo, Severity } from './types.js';

export interface Rule extends RuleInfo {
  good: Example;
  bad: Example;
}

const PROTO = 'OMA-TS-DM_Protocol-V1_2';
const REP = 'OMA-TS-DM_RepPro-V1_2';
const TND = 'OMA-TS-DM_TND-V1_2';
const OBJ = 'OMA-TS-DM_StdObj-V1_2';

const rule = (id: string, severity: Severity, clause: string, text: string, good: Example, bad: Example): Rule => ({ id, severity, clause, text, good, bad });

// --- shared scenes ------------------------------------------------------------------------------
const U = './Vendor/Mod';
const MD5 = 'syncml:auth-md5';
const BASIC = 'syncml:auth-basic';
const DIGEST_A = cred(MD5, 'Zz6EivR3yeaaENcRN6lpAQ==');
const DIGEST_B = cred(MD5, 'S5Rr3trIIUmJe/1QzHKMAQ==');
const RESP = `${SERVER}/s/1`;

/** The device's answer to a package 2 holding `get(4, U)`. */
const getReply = (code = 200, body = results(3, 1, 4, item({ source: U, data: 'Phone 1' }))): string =>
  `${hdrStatus(1, 1, 200)}${status(2, 1, 4, 'Get', code)}${body}${FINAL}`;
const GET_SESSION: Example = [...opening(get(4, U)), c(getReply())];
const withGetReply = (reply: string, hdr = {}): Example => [...opening(get(4, U)), c(reply, hdr)];

/** Package 1 challenged with `hdrCode` (and `challenge`), then the device's message `retry`. */
const challenged = (retry: ExampleMessage, challenge = chal(BASIC), hdrCode = 401, first: ExampleMessage = c(PKG1)): Example => [
  first, s(`${hdrStatus(1, 1, hdrCode, challenge)}${status(2, 1, 1, 'Alert', hdrCode)}${status(3, 1, 2, 'Replace', hdrCode)}${FINAL}`), retry,
];
const RETRY = `${hdrStatus(1, 1, 200)}${pkg1(2)}`;

/** A large object to U in two chunks of 4 bytes, `size` announced on the first. */
const chunk = (id: number, data: string, o: { size?: number | string; more?: boolean } = {}): string =>
  cmd('Replace', id, item({ target: U, data, ...(o.size !== undefined ? { meta: meta({ size: o.size }) } : {}), ...(o.more ? { more: true } : {}) }));
const lo = (o: { first?: string; second?: string; firstCode?: number; lastCode?: number; pkg1Meta?: string } = {}): Example => [
  c(PKG1, o.pkg1Meta ? { meta: o.pkg1Meta } : {}),
  s(`${P2()}${o.first ?? chunk(4, 'abcd', { size: 8, more: true })}`),
  c(`${hdrStatus(1, 1, 200)}${status(2, 1, 4, 'Replace', o.firstCode ?? 213)}${alert(3, '1222')}`),
  s(`${hdrStatus(1, 2, 200)}${status(2, 2, 3, 'Alert', 200)}${o.second ?? chunk(3, 'efgh')}${FINAL}`),
  c(`${hdrStatus(1, 2, 200)}${status(2, 2, 3, 'Replace', o.lastCode ?? 200)}${FINAL}`),
];
/** A large object the server drops after its first chunk, sending a Get instead; then the device's answer. */
const dropped = (answer: string): Example => [
  ...lo().slice(0, 3),
  s(`${hdrStatus(1, 2, 200)}${status(2, 2, 3, 'Alert', 200)}${get(3, './DevInfo/Man')}${FINAL}`),
  c(`${hdrStatus(1, 2, 200)}${status(2, 2, 3, 'Get', 200)}${results(3, 2, 3, item({ source: './DevInfo/Man', data: 'Acme' }))}${answer}${FINAL}`),
];

/** The device's package 3 split in two: Results for Get 4 first, then (after the server's `middle`) for Get 5. */
const splitPackage = (middle: string): Example => [
  ...opening(`${get(4, U)}${get(5, './DevInfo/Man')}`),
  c(`${hdrStatus(1, 1, 200)}${status(2, 1, 4, 'Get', 200)}${status(3, 1, 5, 'Get', 200)}${results(4, 1, 4, item({ source: U, data: 'a' }))}`),
  s(middle),
  c(`${hdrStatus(1, 2, 200)}${status(2, 2, 2, 'Alert', 200)}${results(3, 1, 5, item({ source: './DevInfo/Man', data: 'Acme' }))}${FINAL}`),
];
const NEXT_MESSAGE = `${hdrStatus(1, 2, 200)}${alert(2, '1222')}`;

/** An Atomic (or Sequence) of two Replaces and the device's statuses for it. */
const container = (kind: string, codes: [number, number, number]): Example => [
  ...opening(cmd(kind, 4, `${replace(5, U, 'a')}${replace(6, './Vendor/Other', 'b')}`)),
  c(`${hdrStatus(1, 1, 200)}${status(2, 1, 4, kind, codes[0])}${status(3, 1, 5, 'Replace', codes[1])}${status(4, 1, 6, 'Replace', codes[2])}${FINAL}`),
];

const DEPTH_SESSION = (uri: string): Example => [
  ...opening(get(4, './DevDetail/URI/MaxDepth')),
  c(`${hdrStatus(1, 1, 200)}${status(2, 1, 4, 'Get', 200)}${results(3, 1, 4, item({ source: './DevDetail/URI/MaxDepth', data: '3' }))}${FINAL}`),
  s(`${hdrStatus(1, 2, 200)}${get(2, uri)}${FINAL}`),
];

const GENERIC = (metaXml: string): Example => [c(`${alert(1, '1201')}${devInfo(2)}${alert(3, '1226', item({ source: './FUMO', meta: metaXml, data: '0' }))}${FINAL}`)];
const TNDS = '<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD><Node><NodeName>A</NodeName></Node></MgmtTree>';

export const RULES: readonly Rule[] = [
  // --- message and SyncHdr ---
  rule('msg.decode', 'error', `${REP} §6.2.1`, 'A message is a SyncML document (SyncML, SyncHdr, SyncBody) that can be read',
    [c(PKG1)], [raw('client', '<html><body>hello</body></html>')]),
  rule('hdr.verproto', 'error', `${REP} §6.1.25`, 'VerProto is DM/1.2 (DM/1.1 and DM/1.3 are the other DM versions)',
    [c(PKG1)], [c(PKG1, { verProto: 'DM/9.9' })]),
  rule('hdr.verdtd', 'error', `${PROTO} §8.3; ${REP} §6.1.24`, 'VerDTD is 1.2 with DM/1.2 and DM/1.3 (1.1 with DM/1.1)',
    [c(PKG1)], [c(PKG1, { verDTD: '1.1' })]),
  rule('hdr.version-constant', 'error', `${PROTO} §8.3-§8.6`, 'VerProto and VerDTD stay the same in every message of a session',
    opening(''), opening('', { verProto: 'DM/1.1', verDTD: '1.1' })),
  rule('hdr.sessionid', 'error', `${PROTO} §8.3`, 'The same SessionID is used throughout the session',
    opening(''), opening('', { sessionID: '2' })),
  rule('hdr.msgid-unique', 'error', `${PROTO} §8.3; ${REP} §6.1.12`, 'MsgID identifies a message unambiguously: a sender never repeats one in a session',
    challenged(c(RETRY, { cred: BASIC_CRED })), challenged(c(RETRY, { cred: BASIC_CRED, msgID: '1' }))),
  rule('hdr.msgid-sequence', 'warning', `${REP} §6.1.12`, 'Each sender numbers its messages 1, 2, 3 ... within a session',
    opening(''), opening('', { msgID: '5' })),
  rule('hdr.target-source', 'error', `${PROTO} §8.3, §8.4`, "The server's Target is the device's Source, and each side keeps its address for the session",
    opening(''), opening('', { target: 'IMEI:000000000000000' })),
  rule('hdr.respuri', 'error', `${REP} §6.1.17`, 'RespURI is an absolute URI',
    opening('', { respURI: RESP }), opening('', { respURI: '/s/1' })),
  rule('hdr.respuri-followed', 'error', `${PROTO} §9.1; ${REP} §6.1.17`, 'The device sends its next message to the RespURI the server gave',
    [c(PKG1, {}, SERVER), s(`${P2()}${get(4, U)}${FINAL}`, { respURI: RESP }), c(getReply(), {}, RESP)],
    [c(PKG1, {}, SERVER), s(`${P2()}${get(4, U)}${FINAL}`, { respURI: RESP }), c(getReply(), {}, SERVER)]),
  rule('hdr.maxmsgsize', 'error', `${PROTO} §6.1; ${REP} §6.4`, 'No message is larger than the MaxMsgSize its recipient announced',
    [c(PKG1, { meta: '<MaxMsgSize>10000</MaxMsgSize>' }), s(`${P2()}${FINAL}`)], [c(PKG1, { meta: '<MaxMsgSize>300</MaxMsgSize>' }), s(`${P2()}${FINAL}`)]),
  rule('meta.size-value', 'error', `${REP} §6.4`, 'MaxMsgSize, MaxObjSize and Size are byte counts',
    [c(PKG1, { meta: '<MaxMsgSize>10000</MaxMsgSize>' })], [c(PKG1, { meta: '<MaxMsgSize>big</MaxMsgSize>' })]),

  // --- commands ---
  rule('cmd.cmdid-unique', 'error', `${REP} §6.1.4`, 'CmdID is unique within a message, nested commands and Statuses included',
    opening(get(4, U)), opening(get(3, U))),
  rule('cmd.cred', 'error', `${REP} §6.1.6`, 'Cred goes only in the SyncHdr, never inside a command',
    opening(get(4, U)), opening(cmd('Get', 4, `${BASIC_CRED}${item({ target: U })}`))),
  rule('cmd.noresp', 'warning', `${REP} §6.1.14`, 'NoResp is not used in OMA DM',
    opening(get(4, U)), opening(cmd('Get', 4, `<NoResp/>${item({ target: U })}`))),
  rule('cmd.client-commands', 'error', `${PROTO} §8`, 'A device sends only Replace (with DevInfo), Results, Alert and Status',
    [c(PKG1)], [c(`${alert(1, '1201')}${devInfo(2)}${get(3, './Vendor/X')}${FINAL}`)]),
  rule('cmd.item-target', 'error', `${REP} §6.6.1-§6.6.11`, 'Every item of Add, Copy, Delete, Exec, Get and Replace names its node in Target',
    opening(get(4, U)), opening(cmd('Get', 4, item({ source: U })))),
  rule('copy.source', 'error', `${REP} §6.6.4`, 'A Copy item names the leaf to copy (Source) and where to (Target)',
    opening(cmd('Copy', 4, item({ target: './Vendor/B', source: './Vendor/A' }))), opening(cmd('Copy', 4, item({ target: './Vendor/B' })))),
  rule('delete.root', 'warning', `${REP} §6.6.5`, 'The root node (.) cannot be deleted',
    opening(del(4, './Vendor/X')), opening(del(4, '.'))),

  // --- Status ---
  rule('status.missing', 'error', `${PROTO} §8.4, §8.5; ${REP} §6.5.1`, "Every command but Results and Status gets a Status in the peer's answering package",
    GET_SESSION, withGetReply(`${hdrStatus(1, 1, 200)}${results(2, 1, 4, item({ source: U, data: 'Phone 1' }))}${FINAL}`)),
  rule('status.hdr-missing', 'error', `${PROTO} §8.4, §8.5, §9.1`, 'Every answer carries a Status for the SyncHdr of the message it answers',
    opening(''), [c(PKG1), s(`${status(1, 1, 1, 'Alert', 200)}${status(2, 1, 2, 'Replace', 200)}${FINAL}`)]),
  rule('status.unneeded', 'error', `${PROTO} §6.1; ${REP} §6.5.1`, 'No Status answers a Status, nor a Results that was accepted (200)',
    [...GET_SESSION, s(`${hdrStatus(1, 2, 200)}${FINAL}`)], [...GET_SESSION, s(`${hdrStatus(1, 2, 200)}${status(2, 2, 3, 'Results', 200)}${FINAL}`)]),
  rule('status.duplicate', 'error', `${REP} §6.5.1`, 'A command gets one Status (at most one per item)',
    opening(''), opening(status(4, 1, 1, 'Alert', 200))),
  rule('status.cmd-name', 'error', `${REP} §6.1.3`, 'Cmd names the command CmdRef points at (SyncHdr for CmdRef 0)',
    opening(''), [c(PKG1), s(`${hdrStatus(1, 1, 212)}${status(2, 1, 1, 'Replace', 200)}${status(3, 1, 2, 'Replace', 200)}${FINAL}`)]),
  rule('status.msgref-unknown', 'error', `${REP} §6.1.13`, 'MsgRef is the MsgID of a message the peer sent',
    opening(''), [c(PKG1), s(`${hdrStatus(1, 1, 212)}${status(2, 7, 1, 'Alert', 200)}${status(3, 1, 2, 'Replace', 200)}${FINAL}`)]),
  rule('status.cmdref-unknown', 'error', `${REP} §6.1.5`, 'CmdRef is the CmdID of a command in the message MsgRef names',
    opening(''), [c(PKG1), s(`${hdrStatus(1, 1, 212)}${status(2, 1, 9, 'Alert', 200)}${status(3, 1, 2, 'Replace', 200)}${FINAL}`)]),
  rule('status.refs', 'error', `${REP} §6.1.21, §6.1.23`, 'TargetRef and SourceRef repeat the Target and Source of what the Status answers',
    [c(PKG1), s(`${hdrStatus(1, 1, 212, `<TargetRef>${SERVER}</TargetRef><SourceRef>${DEVICE}</SourceRef>`)}${status(2, 1, 1, 'Alert', 200)}${status(3, 1, 2, 'Replace', 200)}${FINAL}`)],
    [c(PKG1), s(`${hdrStatus(1, 1, 212, `<TargetRef>${DEVICE}</TargetRef><SourceRef>${SERVER}</SourceRef>`)}${status(2, 1, 1, 'Alert', 200)}${status(3, 1, 2, 'Replace', 200)}${FINAL}`)]),
  rule('status.code-known', 'error', `${REP} §6.5.1`, 'Status Data is a SyncML status code',
    GET_SESSION, withGetReply(getReply(299, ''))),
  rule('status.code-for-command', 'warning', `${REP} §6.6`, "The code is one the command's table in DM RepPro lists",
    withGetReply(getReply(404, '')), withGetReply(getReply(418, ''))),
  rule('status.code-misplaced', 'error', `${REP} §6.5.1; ${PROTO} §7, §9.1`, '212 answers only a SyncHdr, 213 only a chunk, 216 only an Atomic member, 507 and 517 only an Atomic',
    opening(''), [c(PKG1), s(`${hdrStatus(1, 1, 212)}${status(2, 1, 1, 'Alert', 212)}${status(3, 1, 2, 'Replace', 200)}${FINAL}`)]),

  // --- Results ---
  rule('results.for-get', 'error', `${REP} §6.6.7, §6.6.12`, 'A Results answers a Get',
    GET_SESSION, [...opening(replace(4, U, 'x')), c(`${hdrStatus(1, 1, 200)}${status(2, 1, 4, 'Replace', 200)}${results(3, 1, 4, item({ source: U, data: 'x' }))}${FINAL}`)]),
  rule('results.missing', 'error', `${PROTO} §8.5`, 'A Get answered 200 has its Results',
    GET_SESSION, withGetReply(getReply(200, ''))),
  rule('results.order', 'error', `${REP} §6.6.12`, "Results come after their Get's Status",
    GET_SESSION, withGetReply(`${hdrStatus(1, 1, 200)}${results(2, 1, 4, item({ source: U, data: 'Phone 1' }))}${status(3, 1, 4, 'Get', 200)}${FINAL}`)),
  rule('results.failed-get', 'error', `${REP} §6.6.7, §6.6.12`, 'A Get that failed has no Results',
    withGetReply(getReply(404, '')), withGetReply(getReply(404))),
  rule('results.source', 'error', `${PROTO} §8.5`, 'Each Results item names the node it reads in Source',
    GET_SESSION, withGetReply(getReply(200, results(3, 1, 4, item({ target: U, data: 'Phone 1' }))))),
  rule('results.meta', 'warning', `${PROTO} §8.5`, 'Results carry Meta Format (and Type) unless the data is plain text, the default',
    [...opening(get(4, U)), asWbxml(c(getReply(200, results(3, 1, 4, item({ source: U, meta: meta({ format: 'bin' }), data: hex('fffe00') })))))],
    [...opening(get(4, U)), asWbxml(c(getReply(200, results(3, 1, 4, item({ source: U, data: hex('fffe00') })))))]),

  // --- packages ---
  rule('pkg.client-final-early', 'error', `${PROTO} §6.2`, 'The device closes its package (Final) only after the server closed its own',
    lo().slice(0, 3), [...lo().slice(0, 2), c(`${hdrStatus(1, 1, 200)}${status(2, 1, 4, 'Replace', 213)}${FINAL}`)]),
  rule('pkg.server-final', 'warning', `${PROTO} §6.2`, 'The server puts Final in every message but large-object chunks and Next Message answers',
    opening(get(4, U)), [c(PKG1), s(`${P2()}${get(4, U)}`)]),
  rule('pkg.next-message', 'error', `${PROTO} §6.2`, "While the device's package is open, the server answers with Statuses and Alert 1222 only, without Final",
    splitPackage(NEXT_MESSAGE), splitPackage(`${hdrStatus(1, 2, 200)}${get(2, './DevInfo/Lang')}${FINAL}`)),
  rule('alert.1222-final', 'error', `${PROTO} §6.2`, 'A request for the next message (Alert 1222) never travels with Final',
    splitPackage(NEXT_MESSAGE), splitPackage(`${NEXT_MESSAGE}${FINAL}`)),
  rule('alert.1222-missing', 'error', `${PROTO} §6.2, §7`, 'The answer to a message that leaves its package open asks for more (Alert 1222) unless it carries other commands',
    lo().slice(0, 3), [...lo().slice(0, 2), c(`${hdrStatus(1, 1, 200)}${status(2, 1, 4, 'Replace', 213)}`)]),
  rule('pkg1.alert', 'error', `${PROTO} §8.3`, "The device's first message carries Alert 1200 or 1201",
    [c(PKG1)], [c(`${devInfo(1)}${FINAL}`)]),
  rule('pkg1.devinfo', 'error', `${PROTO} §8.3`, 'Package 1 carries the DevInfo nodes in a Replace',
    [c(PKG1)], [c(`${alert(1, '1201')}${FINAL}`)]),
  rule('pkg1.devinfo-nodes', 'warning', `${PROTO} §8.3; ${OBJ} §5.3.2`, 'DevInfo in package 1 has DevId, Man, Mod, DmV and Lang',
    [c(PKG1)], [c(`${alert(1, '1201')}${devInfo(2, ['DevId', 'Man'])}${FINAL}`)]),
  rule('pkg1.devinfo-source', 'error', `${PROTO} §8.3`, 'DevInfo items in package 1 name their node in Source',
    [c(PKG1)], [c(`${alert(1, '1201')}${cmd('Replace', 2, ['DevId', 'Man', 'Mod', 'DmV', 'Lang'].map((n) => item({ target: `./DevInfo/${n}`, data: 'x' })).join(''))}${FINAL}`)]),

  // --- alerts ---
  rule('alert.data', 'error', `${REP} §6.6.2`, 'An Alert carries its code in Data',
    opening(alert(4, '1100', item({ data: 'Hello' }))), opening('<Alert><CmdID>4</CmdID></Alert>')),
  rule('alert.code-known', 'warning', `${REP} §7`, 'The alert code is a DM alert code',
    opening(alert(4, '1100', item({ data: 'Hello' }))), opening(alert(4, '1999'))),
  rule('alert.direction', 'error', `${PROTO} §8.7, §10; ${REP} §7`, 'User-interaction alerts (1100-1104) go to the device; 1200, 1201, 1224 and 1226 come from it',
    opening(alert(4, '1100', item({ data: 'Hello' }))), opening(alert(4, '1226', item({ meta: meta({ type: 'x', format: 'chr' }), data: 'x' })))),
  rule('alert.generic', 'error', `${PROTO} §8.7.1`, 'A Generic Alert (1226) item has Meta Type, Meta Format and Data',
    GENERIC(meta({ type: 'Reversed-Domain-Name: org.openmobilealliance.dm.firmwareupdate.devicerequest', format: 'int' })), GENERIC('')),
  rule('alert.1223-final', 'error', `${PROTO} §8.1.2`, 'A session abort (Alert 1223) comes with Final',
    opening(alert(4, '1223')), [c(PKG1), s(`${P2()}${alert(4, '1223')}`)]),
  rule('alert.1223-client-reply', 'warning', `${PROTO} §8.1.2`, "The device does not answer the server's session abort",
    opening(alert(4, '1223')), [...opening(alert(4, '1223')), c(`${hdrStatus(1, 1, 200)}${status(2, 1, 4, 'Alert', 200)}${FINAL}`)]),
  rule('alert.1223-server-reply', 'error', `${PROTO} §8.1.2`, "The server answers the device's session abort with Statuses only",
    [...opening(get(4, U)), c(`${hdrStatus(1, 1, 200)}${alert(2, '1223')}${FINAL}`), s(`${hdrStatus(1, 2, 200)}${status(2, 2, 2, 'Alert', 200)}${FINAL}`)],
    [...opening(get(4, U)), c(`${hdrStatus(1, 1, 200)}${alert(2, '1223')}${FINAL}`), s(`${hdrStatus(1, 2, 200)}${status(2, 2, 2, 'Alert', 200)}${get(3, U)}${FINAL}`)]),

  // --- large objects ---
  rule('lo.size-first', 'error', `${PROTO} §7`, "The first chunk of a large object carries Meta Size, the object's total",
    lo(), lo({ first: chunk(4, 'abcd', { more: true }) })),
  rule('lo.size-later', 'error', `${PROTO} §7`, 'Only the first chunk of a large object carries Size',
    lo(), lo({ second: chunk(3, 'efgh', { size: 8 }) })),
  rule('lo.size-sent', 'error', `${PROTO} §7`, 'The chunks of a large object add up to the Size announced',
    lo(), lo({ first: chunk(4, 'abcd', { size: 9, more: true }), lastCode: 424 })),
  rule('lo.424', 'error', `${PROTO} §7`, 'A large object whose chunks do not add up to its Size is answered 424, and only such a one',
    lo({ first: chunk(4, 'abcd', { size: 9, more: true }), lastCode: 424 }), lo({ first: chunk(4, 'abcd', { size: 9, more: true }) })),
  rule('lo.213', 'error', `${PROTO} §7`, 'Each chunk but the last is answered 213',
    lo(), lo({ firstCode: 200 })),
  rule('lo.not-contiguous', 'error', `${PROTO} §7`, "The chunks of an object follow each other, first in the sender's next messages, with nothing between them",
    lo(), dropped(alert(4, '1225', item({ target: U })))),
  rule('lo.1225', 'error', `${PROTO} §7`, 'The recipient of a large object left unfinished sends Alert 1225',
    dropped(alert(4, '1225', item({ target: U }))), dropped('')),
  rule('lo.1225-unexpected', 'warning', `${PROTO} §7`, 'Alert 1225 only follows a large object left unfinished',
    dropped(alert(4, '1225', item({ target: U }))), withGetReply(getReply(200, `${results(3, 1, 4, item({ source: U, data: 'Phone 1' }))}${alert(4, '1225', item({ target: U }))}`))),
  rule('lo.moredata-final', 'error', `${PROTO} §6.2, §7`, 'A chunk (MoreData) never travels with Final: the package goes on',
    lo(), lo({ first: `${chunk(4, 'abcd', { size: 8, more: true })}${FINAL}` })),
  rule('lo.moredata-last-item', 'error', `${PROTO} §7`, 'A chunk is the last item of its message: nothing comes between chunks',
    lo(), lo({ first: `${chunk(4, 'abcd', { size: 8, more: true })}${get(5, './DevInfo/Man')}` })),
  rule('lo.maxobjsize', 'error', `${PROTO} §7`, 'No object is larger than the MaxObjSize its recipient announced',
    lo({ pkg1Meta: '<MaxObjSize>100</MaxObjSize>' }), lo({ pkg1Meta: '<MaxObjSize>6</MaxObjSize>' })),

  // --- authentication ---
  rule('auth.type-known', 'error', `${REP} §6.1.2, §6.1.6`, 'Cred is syncml:auth-basic or syncml:auth-md5 (HMAC travels in a transport header); Chal may also be syncml:auth-MAC',
    [c(PKG1, { cred: BASIC_CRED })], [c(PKG1, { cred: cred('syncml:auth-foo', 'YWJj') })]),
  rule('auth.cred-format', 'error', `${REP} §6.1.6`, 'An MD5 Cred says Format b64 (and basic credentials are base64 too)',
    [c(PKG1, { cred: DIGEST_A })], [c(PKG1, { cred: cred(MD5, 'Zz6EivR3yeaaENcRN6lpAQ==', 'chr') })]),
  rule('auth.cred-data', 'error', `${REP} §6.1.6`, 'Basic Cred Data is base64 of name:password; an MD5 digest is 16 bytes in base64',
    [c(PKG1, { cred: BASIC_CRED })], [c(PKG1, { cred: cred(BASIC, 'bm9jb2xvbg==') })]),
  rule('auth.chal-missing', 'error', `${PROTO} §9.1`, 'A 401 or 407 carries a Chal saying how to authenticate',
    challenged(c(RETRY, { cred: BASIC_CRED })), challenged(c(RETRY, { cred: BASIC_CRED }), '')),
  rule('auth.chal-format', 'error', `${REP} §6.1.2`, 'An MD5 or HMAC challenge has Format b64 and a base64 NextNonce',
    challenged(c(RETRY, { cred: DIGEST_B }), chal(MD5, 'bm9uY2Ux'), 401, c(PKG1, { cred: DIGEST_A })),
    challenged(c(RETRY, { cred: DIGEST_B }), chal(MD5, 'not base64!'), 401, c(PKG1, { cred: DIGEST_A }))),
  rule('auth.chal-beside-212', 'warning', `${PROTO} §9.1`, 'Beside 212 only an MD5 challenge (its nonce is for the next session) has a use',
    [c(PKG1, { cred: DIGEST_A }), s(`${hdrStatus(1, 1, 212, chal(MD5, 'bm9uY2Ux'))}${status(2, 1, 1, 'Alert', 200)}${status(3, 1, 2, 'Replace', 200)}${FINAL}`)],
    [c(PKG1, { cred: BASIC_CRED }), s(`${hdrStatus(1, 1, 212, chal(BASIC))}${status(2, 1, 1, 'Alert', 200)}${status(3, 1, 2, 'Replace', 200)}${FINAL}`)]),
  rule('auth.cred-after-challenge', 'error', `${PROTO} §9.2`, 'After a 401 or 407 the repeated request carries Cred',
    challenged(c(RETRY, { cred: BASIC_CRED })), challenged(c(RETRY))),
  rule('auth.repeat-package1', 'error', `${PROTO} §9`, 'Challenged on package 1, the device sends package 1 again (Alert and DevInfo) with credentials',
    challenged(c(RETRY, { cred: BASIC_CRED })), challenged(c(`${hdrStatus(1, 1, 200)}${alert(2, '1201')}${FINAL}`, { cred: BASIC_CRED }))),
  rule('auth.failure-only-status', 'error', `${PROTO} §9.1`, 'A message that refuses authentication (401, 407) carries Statuses only',
    challenged(c(RETRY, { cred: BASIC_CRED })),
    [c(PKG1), s(`${hdrStatus(1, 1, 401, chal(BASIC))}${status(2, 1, 1, 'Alert', 401)}${status(3, 1, 2, 'Replace', 401)}${get(4, U)}${FINAL}`)]),
  rule('auth.type-constant', 'error', `${PROTO} §9.1`, 'Once accepted, the authentication type stays the same for the session',
    [...opening(get(4, U)).map((m, i) => (i === 0 ? c(PKG1, { cred: BASIC_CRED }) : m)), c(getReply(), { cred: BASIC_CRED })],
    [...opening(get(4, U)).map((m, i) => (i === 0 ? c(PKG1, { cred: BASIC_CRED }) : m)), c(getReply(), { cred: DIGEST_A })]),
  rule('auth.nonce-not-used', 'error', `${PROTO} §9.1`, 'After a new nonce (a Chal with 200, 401 or 407) the next digest is built with it',
    challenged(c(RETRY, { cred: DIGEST_B }), chal(MD5, 'bm9uY2Ux'), 401, c(PKG1, { cred: DIGEST_A })),
    challenged(c(RETRY, { cred: DIGEST_A }), chal(MD5, 'bm9uY2Ux'), 401, c(PKG1, { cred: DIGEST_A }))),
  rule('auth.nonce-repeated', 'warning', `${PROTO} §9.1`, 'A nonce for the next request (with 200, 401 or 407) is one not handed out before in the session',
    [...challenged(c(RETRY, { cred: DIGEST_B }), chal(MD5, 'bm9uY2Ux'), 401, c(PKG1, { cred: DIGEST_A })), s(`${hdrStatus(1, 2, 401, chal(MD5, 'bm9uY2Uy'))}${status(2, 2, 2, 'Alert', 401)}${status(3, 2, 3, 'Replace', 401)}${FINAL}`)],
    [...challenged(c(RETRY, { cred: DIGEST_B }), chal(MD5, 'bm9uY2Ux'), 401, c(PKG1, { cred: DIGEST_A })), s(`${hdrStatus(1, 2, 401, chal(MD5, 'bm9uY2Ux'))}${status(2, 2, 2, 'Alert', 401)}${status(3, 2, 3, 'Replace', 401)}${FINAL}`)]),

  // --- Meta Format against Data ---
  rule('meta.format-known', 'error', `${TND} §7.7.2`, 'Meta Format is a DM format (b64, bin, bool, chr, int, node, null, xml, date, time, float)',
    opening(replace(4, U, 'x', meta({ format: 'chr' }))), opening(replace(4, U, 'x', meta({ format: 'text' })))),
  rule('meta.b64', 'error', `${TND} §7.7.2`, 'Data with Format b64 is base64',
    opening(replace(4, U, 'AAEC', meta({ format: 'b64' }))), opening(replace(4, U, 'not base64!', meta({ format: 'b64' })))),
  rule('meta.int', 'error', `${TND} §7.7.2`, 'Data with Format int is an integer',
    opening(replace(4, U, '10', meta({ format: 'int' }))), opening(replace(4, U, 'ten', meta({ format: 'int' })))),
  rule('meta.bool', 'error', `${TND} §7.7.2`, 'Data with Format bool is true or false',
    opening(replace(4, U, 'true', meta({ format: 'bool' }))), opening(replace(4, U, 'yes', meta({ format: 'bool' })))),
  rule('meta.node', 'error', `${TND} §7.7.2`, 'An interior node (Format node) is added without Data',
    opening(add(4, './Vendor/Dir', undefined, meta({ format: 'node' }))), opening(add(4, './Vendor/Dir', 'x', meta({ format: 'node' })))),
  rule('meta.bin-xml', 'error', `${TND} §7.7.2`, 'Binary data sent over XML says Format b64, not bin',
    opening(replace(4, U, 'AAEC', meta({ format: 'b64' }))), opening(replace(4, U, 'AAEC', meta({ format: 'bin' })))),
  rule('meta.chr', 'warning', `${TND} §7.7.2`, 'Data with Format chr (the default) is UTF-8 text',
    [c(PKG1), asWbxml(s(`${P2()}${replace(4, U, hex('fffe00'), meta({ format: 'bin' }))}${FINAL}`))],
    [c(PKG1), asWbxml(s(`${P2()}${replace(4, U, hex('fffe00'), meta({ format: 'chr' }))}${FINAL}`))]),
  rule('results.tnds-meta', 'warning', `${PROTO} §8.5; ${REP} §6.6.7`, 'Results holding a TNDS tree say so in Meta Type and Format (xml)',
    withGetReply(getReply(200, results(3, 1, 4, item({ source: U, meta: meta({ format: 'xml', type: 'application/vnd.syncml.dmtnds+xml' }), data: TNDS })))),
    withGetReply(getReply(200, results(3, 1, 4, item({ source: U, data: TNDS }))))),

  // --- URIs ---
  rule('uri.relative', 'error', `${TND} §5`, 'A node URI is relative to the tree root (./...)',
    opening(get(4, U)), opening(get(4, '/Vendor/Mod'))),
  rule('uri.dot-segments', 'error', `${TND} §5`, 'A URI never uses "../", and "./" only at its start',
    opening(get(4, U)), opening(get(4, './Vendor/../DMAcc'))),
  rule('uri.empty-segment', 'error', `${TND} §5`, 'A URI has no empty segment ("//")',
    opening(get(4, U)), opening(get(4, './Vendor//Mod'))),
  rule('uri.trailing-slash', 'error', `${TND} §5`, 'A URI does not end with "/" (the root is ".")',
    opening(get(4, U)), opening(get(4, './Vendor/'))),
  rule('uri.limits', 'warning', `${OBJ} §5.3.3`, "URIs stay within the device's DevDetail/URI MaxDepth, MaxTotLen and MaxSegLen",
    DEPTH_SESSION('./A/B/C'), DEPTH_SESSION('./A/B/C/D')),

  // --- Atomic, Sequence, Exec ---
  rule('atomic.members', 'error', `${REP} §6.6.3`, 'An Atomic holds Add, Alert, Copy, Delete and Replace: no Atomic, Get or Sequence inside',
    opening(cmd('Atomic', 4, replace(5, U, 'x'))), opening(cmd('Atomic', 4, get(5, U)))),
  rule('exec.in-atomic', 'error', `${REP} §6.6.6`, 'An Exec stands in a Sequence or the SyncBody, never in an Atomic',
    opening(cmd('Sequence', 4, exec(5, './Vendor/Run'))), opening(cmd('Atomic', 4, exec(5, './Vendor/Run')))),
  rule('sequence.members', 'error', `${REP} §6.6.14`, 'A Sequence holds Add, Alert, Copy, Delete, Exec, Get and Replace',
    opening(cmd('Sequence', 4, get(5, U))), opening(cmd('Sequence', 4, cmd('Atomic', 5, replace(6, U, 'x'))))),
  rule('container.empty', 'error', `${REP} §6.6.3, §6.6.14`, 'An Atomic or Sequence holds at least one command',
    opening(cmd('Atomic', 4, replace(5, U, 'x'))), opening(cmd('Atomic', 4, ''))),
  rule('atomic.status', 'error', `${REP} §6.6.3`, 'An Atomic with a failed member is 507, the others rolled back (216); 200 means every member succeeded',
    container('Atomic', [507, 216, 404]), container('Atomic', [200, 200, 404])),
  rule('sequence.status', 'error', `${REP} §6.6.14`, 'A Sequence that began is answered 200; members it did not run get 215',
    container('Sequence', [200, 200, 404]), container('Sequence', [500, 200, 404])),
];

export const RULE_BY_ID: ReadonlyMap<string, Rule> = new Map(RULES.map((r) => [r.id, r]));
