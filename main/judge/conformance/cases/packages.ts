/**
 * Messages and packages (Protocol §6, §8; RepPro §6.1, §6.5): the SyncHdr kept across a session
 * (SessionID, MsgID, Status for our SyncHdr), Status references, Results after their Status, our
 * package in two messages (the device asks with 1222), and our Alert 1223.
 */
import { PROTO, REP, SCRATCH, add, alert, get, replace, type ConformanceCase } from '../dsl.js';

const PKG = 'Packages';
const L = `${SCRATCH}/Leaf`;

export const PACKAGE_CASES: ConformanceCase[] = [
  {
    id: 'dm12.pkg.header-sequence', title: 'Over three packages: SessionID constant, MsgID +1 each message, a Status for each of our SyncHdrs, CmdIDs unique', clause: `${PROTO} §8.3; ${REP} §6.1.4, §6.1.12, §6.1.15`, group: PKG,
    *script(t, first) {
      yield t.pkg(get('./DevInfo/Mod'));
      yield t.pkg(get('./DevInfo/Man'));
      yield t.pkg(get('./DevInfo/Lang'));
      const msgs = t.seen.filter((m) => m.sessionId === first.sessionId && !m.refused).map((m) => m.message);
      const sid = msgs[0]?.hdr.sessionID;
      const badSid = msgs.filter((m) => m.hdr.sessionID !== sid).length;
      t.check('SessionID of every message', JSON.stringify(sid), badSid ? `${badSid} message(s) with another` : 'all the same', badSid === 0, 'hdr.sessionid');
      const ids = msgs.map((m) => Number(m.hdr.msgID));
      t.check('MsgIDs', 'increasing by 1 from 1', ids.join(', '), ids.every((n, i) => n === i + 1), 'hdr.msgid-unique');
      const noHdr = msgs.slice(1).filter((m) => !m.body.commands.some((c) => c.kind === 'Status' && c.cmdRef.trim() === '0')).length;
      t.check('a Status for our SyncHdr in each answer', 'in every message after package 1', noHdr ? `missing in ${noHdr}` : 'present', noHdr === 0, 'status.hdr-missing');
      const dup = msgs.filter((m) => {
        const c = m.body.commands.map((x) => x.cmdID.trim());
        return new Set(c).size !== c.length;
      }).length;
      t.check('CmdIDs within each message', 'unique', dup ? `repeated in ${dup} message(s)` : 'unique', dup === 0, 'cmd.cmdid-unique');
    },
  },
  {
    id: 'dm12.pkg.status-refs', title: 'Statuses name our MsgID, CmdID, command and TargetRef', clause: `${REP} §6.5.1 (Status), §6.1.13 (MsgRef), §6.1.5 (CmdRef), §6.1.21 (TargetRef)`, group: PKG,
    *script(t) {
      const r = yield* t.scratch(add(L, 'v'), replace(L, 'w'), get(L));
      const ours = r.messages.flatMap((m) => m.message.body.commands).filter((c) => c.kind === 'Status' && c.cmdRef.trim() !== '0');
      const byCmd = (kind: string) => ours.find((s) => s.kind === 'Status' && s.cmd === kind && s.targetRefs.includes(L));
      for (const kind of ['Add', 'Replace', 'Get']) {
        const s = byCmd(kind);
        t.check(`Status for our ${kind} of ${L}`, `Cmd ${kind}, TargetRef ${L}`, s ? 'found' : 'none with that Cmd and TargetRef', s !== undefined, 'status.refs');
      }
      t.check('every Status answers our command', 'MsgRef and CmdRef of a command we sent', `${r.outcomes.filter((o) => o.statusCode !== null).length} of ${r.outcomes.length + 2} commands answered`, r.outcomes.every((o) => o.statusCode !== null), 'status.msgref-unknown');
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.pkg.results-after-status', title: 'Results follow their Get\'s Status, name its CmdRef, Source and Meta Format', clause: `${REP} §6.6.12 (Results), §6.5.1`, group: PKG,
    *script(t) {
      const r = yield t.pkg(get('./DevInfo/Mod'), get('./DevInfo/Man'));
      const cmds = r.messages.flatMap((m) => m.message.body.commands);
      let ok = true;
      let why = 'each after its Status';
      for (const [i, c] of cmds.entries()) {
        if (c.kind !== 'Results') continue;
        const st = cmds.findIndex((s) => s.kind === 'Status' && s.cmdRef === c.cmdRef && s.cmd === 'Get');
        if (st < 0 || st > i) {
          ok = false;
          why = `Results for CmdRef ${c.cmdRef} before its Status`;
        }
        const src = c.items[0]?.source?.locURI;
        if (!src) {
          ok = false;
          why = `Results for CmdRef ${c.cmdRef} without Source`;
        }
      }
      t.check('order and form of the Results', 'after its Status, with Source', why, ok, 'results.order');
      t.expectResult(r, 0, (v) => v.uri === './DevInfo/Mod' && v.format !== null, 'Source ./DevInfo/Mod with a Meta Format', 'Results of Get ./DevInfo/Mod', 'results.source');
    },
  },
  {
    id: 'dm12.pkg.server-package-in-two-messages', title: 'Our package in two messages: the device answers the first with Alert 1222 (no Final), then the rest', clause: `${PROTO} §6.2 (multiple messages), §6.2.1 (1222)`, group: PKG,
    *script(t) {
      const a = yield t.pkgWith({ final: false }, get('./DevInfo/Mod'));
      const asks = t.commands(a).some((c) => c.kind === 'Alert' && c.data?.trim() === '1222');
      t.check('Alert 1222 in the answer to our non-final message', 'present', asks ? 'present' : 'absent', asks, 'alert.1222-missing');
      const final = t.last(a)?.body.final ?? false;
      t.check('Final in that answer', 'absent (the package is not over)', final ? 'Final' : 'absent', !final, 'alert.1222-final');
      t.expectStatus(a, 0, 200, 'Get ./DevInfo/Mod in our first message');
      const b = yield t.pkg(get('./DevInfo/Man'));
      t.expectStatus(b, 0, 200, 'Get ./DevInfo/Man in our second message');
      t.check('Final in the answer to our last message', 'present', t.last(b)?.body.final ? 'Final' : 'absent', t.last(b)?.body.final === true, 'pkg.client-final-early');
    },
  },
  {
    id: 'dm12.pkg.server-abort-1223', title: 'Our Alert 1223 ends the session: the device sends nothing more in it', clause: `${PROTO} §8.6 (session abort); ${REP} §7 (1223)`, group: PKG,
    *script(t, first) {
      yield t.pkgWith({ end: { state: 'aborted', reason: 'the conformance case sent Alert 1223' } }, alert('1223'));
      const after = t.seen.filter((m) => m.sessionId === first.sessionId).length - t.seen.filter((m) => m.sessionId === first.sessionId && m.message.body.commands.some((c) => c.kind === 'Alert' && ['1200', '1201'].includes(c.data?.trim() ?? ''))).length;
      t.check('messages from the device after our Alert 1223', 'none', String(after), after === 0, 'alert.1223-client-reply');
    },
  },
];
