/**
 * Package rules: where Final goes, the "Next Message" exchange with Alert 1222 (DM Protocol §6.2),
 * and what package 1 must carry (§8.3): the session Alert and DevInfo.
 */
import { alertCode, hasAlert, isFinal, itemsOf, normUri, type CmdView, type MsgView } from '../session-model.js';
import { BODY, decoded, type Checks } from './rule.js';

/**
 * A message that only keeps the exchange going: Statuses and Alert 1222/1223. Such a message from a
 * party that already closed its package does not reopen it.
 */
export function onlyNextMessage(m: MsgView): boolean {
  return m.cmds.every((c) => c.command.kind === 'Status' || ['1222', '1223'].includes(alertCode(c.command) ?? ''));
}

/** The party's package is open after `m`: m has no Final and carries more than a Next Message. */
export function leavesPackageOpen(m: MsgView | undefined): boolean {
  return m !== undefined && m.message !== undefined && !isFinal(m) && !onlyNextMessage(m);
}

const isChunk = (m: MsgView): boolean => m.cmds.some((c) => itemsOf(c.command).some((i) => i.moreData));
const DEVINFO_NODES = ['DevId', 'Man', 'Mod', 'DmV', 'Lang'];

function devInfoReplace(m: MsgView): CmdView | undefined {
  return m.cmds.find((c) => c.command.kind === 'Replace' && itemsOf(c.command).some((i) => {
    const u = normUri(i.source?.locURI ?? i.target?.locURI ?? '');
    return u === 'DevInfo' || u.startsWith('DevInfo/');
  }));
}

/** Package 1 (or its repetition after a challenge): the device's message with Alert 1200 or 1201. */
const isPackage1 = (m: MsgView): boolean => m.from === 'client' && hasAlert(m, '1200', '1201');

export const packageChecks: Checks = {
  'pkg.client-final-early': (s, report) => {
    for (const m of decoded(s)) {
      if (m.from !== 'client' || !isFinal(m)) continue;
      const srv = s.prev('server', m.index);
      if (leavesPackageOpen(srv)) report(m, `${BODY}/Final`, `Final closes the device's package while the server's package (message ${srv!.n}) is still open`);
    }
  },

  'pkg.server-final': (s, report) => {
    for (const m of decoded(s)) {
      if (m.from !== 'server' || isFinal(m) || isChunk(m) || hasAlert(m, '1222', '1223')) continue;
      report(m, BODY, 'server message without Final that neither carries a large-object chunk nor asks for the next message (Alert 1222)');
    }
  },

  'pkg.next-message': (s, report) => {
    for (const m of decoded(s)) {
      if (m.from !== 'server') continue;
      const client = s.prev('client', m.index);
      const server = s.prev('server', m.index);
      if (!leavesPackageOpen(client) || leavesPackageOpen(server)) continue;
      // The device is still sending its package and ours is closed: only a "Next Message" may go.
      const extra = m.cmds.find((c) => c.command.kind !== 'Status' && !['1222', '1223'].includes(alertCode(c.command) ?? ''));
      if (extra) report(m, extra.path, `${extra.command.kind} sent while the device's package (message ${client!.n}) is still open: only Statuses and Alert 1222 may go until it ends`);
      else if (isFinal(m)) report(m, `${BODY}/Final`, `Final in the answer to an open device package (message ${client!.n}): a Next Message carries no Final`);
    }
  },

  'alert.1222-final': (s, report) => {
    for (const m of decoded(s)) {
      const a = m.cmds.find((c) => alertCode(c.command) === '1222');
      if (a && isFinal(m)) report(m, a.path, 'Alert 1222 (next message) in a message that carries Final');
    }
  },

  'alert.1222-missing': (s, report) => {
    for (const m of decoded(s)) {
      const before = s.prev(m.to, m.index);
      if (!leavesPackageOpen(before) || hasAlert(before!, '1223')) continue;
      if (m.cmds.every((c) => c.command.kind === 'Status') && !hasAlert(m, '1222', '1223')) {
        report(m, BODY, `message ${before!.n} left its package open, and this answer has neither Alert 1222 nor any other command to keep the exchange going`);
      }
    }
  },

  'pkg1.alert': (s, report) => {
    const first = s.msgs[0];
    if (!s.complete || !first?.message) return;
    if (!hasAlert(first, '1200', '1201')) report(first, BODY, "the device's first message has no Alert 1200 or 1201 saying who started the session");
  },

  'pkg1.devinfo': (s, report) => {
    for (const m of decoded(s)) {
      if (isPackage1(m) && !devInfoReplace(m)) report(m, BODY, 'package 1 has no Replace with the DevInfo nodes');
    }
  },

  'pkg1.devinfo-nodes': (s, report) => {
    for (const m of decoded(s)) {
      if (!isPackage1(m)) continue;
      const r = devInfoReplace(m);
      if (!r) continue;
      const have = new Set(itemsOf(r.command).map((i) => normUri(i.source?.locURI ?? i.target?.locURI ?? '')));
      const missing = DEVINFO_NODES.filter((n) => !have.has(`DevInfo/${n}`));
      if (missing.length > 0) report(m, r.path, `DevInfo lacks ${missing.map((n) => `./DevInfo/${n}`).join(', ')}`);
    }
  },

  'pkg1.devinfo-source': (s, report) => {
    for (const m of decoded(s)) {
      if (!isPackage1(m)) continue;
      const r = devInfoReplace(m);
      if (!r) continue;
      itemsOf(r.command).forEach((it, i) => {
        if (!it.source?.locURI) report(m, `${r.path}/${itemsOf(r.command).length > 1 ? `Item[${i + 1}]` : 'Item'}`, `DevInfo item names its node with Target "${it.target?.locURI ?? ''}"; package 1 uses Source`);
      });
    }
  },
};
