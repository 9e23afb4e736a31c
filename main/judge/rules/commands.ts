/**
 * Rules about commands as such: CmdID uniqueness, where Cred and NoResp may not appear, what a
 * device may send at all (DM Protocol §8), the addresses each management command needs, and the
 * Copy and Delete specifics (DM RepPro §6.6).
 */
import { itemPath, itemsOf, normUri } from '../session-model.js';
import { decoded, HDR, type Checks } from './rule.js';

/** What a device may send (DM Protocol §8): Replace with DevInfo, Results, Alert, and Status. */
const CLIENT_COMMANDS = new Set(['Alert', 'Replace', 'Results', 'Status']);
const ADDRESSED = new Set(['Add', 'Replace', 'Delete', 'Get', 'Exec', 'Copy']);

export const commandChecks: Checks = {
  'cmd.cmdid-unique': (s, report) => {
    for (const m of decoded(s)) {
      const seen = new Map<string, string>();
      for (const c of m.cmds) {
        const id = c.command.cmdID.trim();
        const first = seen.get(id);
        if (first !== undefined) report(m, `${c.path}/CmdID`, `CmdID ${id} is also the CmdID of ${first} in this message`);
        else seen.set(id, c.path);
      }
    }
  },

  'cmd.cred': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) if ('cred' in c.command && c.command.cred) report(m, `${c.path}/Cred`, `Cred inside ${c.command.kind}: DM carries credentials only in the SyncHdr`);
    }
  },

  'cmd.noresp': (s, report) => {
    for (const m of decoded(s)) {
      if (m.message.hdr.noResp) report(m, `${HDR}/NoResp`, 'NoResp is not used in OMA DM');
      for (const c of m.cmds) if (c.command.noResp) report(m, `${c.path}/NoResp`, `NoResp in ${c.command.kind} is not used in OMA DM`);
    }
  },

  'cmd.client-commands': (s, report) => {
    for (const m of decoded(s)) {
      if (m.from !== 'client') continue;
      for (const c of m.cmds) {
        const k = c.command.kind;
        if (!CLIENT_COMMANDS.has(k)) report(m, c.path, `a device sends no ${k}: only Replace (DevInfo), Results, Alert and Status`);
        else if (k === 'Replace') {
          itemsOf(c.command).forEach((it, i) => {
            const uri = normUri(it.source?.locURI ?? it.target?.locURI ?? '');
            if (uri !== 'DevInfo' && !uri.startsWith('DevInfo/')) report(m, itemPath(c, i), `a device's Replace carries DevInfo only, not "${uri}"`);
          });
        }
      }
    }
  },

  'cmd.item-target': (s, report) => {
    for (const m of decoded(s)) {
      if (m.from !== 'server') continue;
      for (const c of m.cmds) {
        if (!ADDRESSED.has(c.command.kind)) continue;
        itemsOf(c.command).forEach((it, i) => {
          if (!it.target?.locURI.trim()) report(m, itemPath(c, i), `${c.command.kind} item has no Target LocURI naming the node`);
        });
      }
    }
  },

  'copy.source': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        if (c.command.kind !== 'Copy') continue;
        itemsOf(c.command).forEach((it, i) => {
          if (!it.source?.locURI.trim()) report(m, itemPath(c, i), 'Copy item has no Source LocURI naming the leaf to copy');
        });
      }
    }
  },

  'delete.root': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        if (c.command.kind !== 'Delete') continue;
        itemsOf(c.command).forEach((it, i) => {
          const u = it.target?.locURI.trim();
          if (u === '.' || u === './') report(m, `${itemPath(c, i)}/Target/LocURI`, 'Delete of the root node: the root cannot be deleted (the device must answer 405)');
        });
      }
    }
  },
};
