/**
 * Alert rules: the code is there and known, each code goes the way it may (UI alerts to the device,
 * session and Generic Alerts to the server), a Generic Alert says what its data is, and a session
 * abort (1223) ends the exchange (DM RepPro §6.6.2 and §7; DM Protocol §8.1, §8.7, §10).
 */
import { alertCode, hasAlert, isFinal } from '../session-model.js';
import { BODY, decoded, type Checks } from './rule.js';

const KNOWN = new Set(['1100', '1101', '1102', '1103', '1104', '1200', '1201', '1222', '1223', '1224', '1225', '1226']);
const SERVER_ONLY = new Set(['1100', '1101', '1102', '1103', '1104']);
const CLIENT_ONLY = new Set(['1200', '1201', '1224', '1226']);

export const alertChecks: Checks = {
  'alert.data': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) if (c.command.kind === 'Alert' && !c.command.data?.trim()) report(m, c.path, 'Alert without Data: the alert code is missing');
    }
  },

  'alert.code-known': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        const a = alertCode(c.command);
        if (a && !KNOWN.has(a)) report(m, `${c.path}/Data`, `alert code ${a} is not a DM alert (1100-1104, 1200, 1201, 1222-1226)`);
      }
    }
  },

  'alert.direction': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        const a = alertCode(c.command);
        if (!a) continue;
        if (m.from === 'client' && SERVER_ONLY.has(a)) report(m, `${c.path}/Data`, `alert ${a} is a user-interaction alert: only a server sends it`);
        if (m.from === 'server' && CLIENT_ONLY.has(a)) report(m, `${c.path}/Data`, `alert ${a} is sent by the device, never by the server`);
      }
    }
  },

  'alert.generic': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        if (alertCode(c.command) !== '1226' || c.command.kind !== 'Alert') continue;
        const items = c.command.items;
        if (items.length === 0) report(m, c.path, 'Generic Alert without an Item');
        items.forEach((it, i) => {
          const at = `${c.path}/${items.length > 1 ? `Item[${i + 1}]` : 'Item'}`;
          const missing = [!it.meta?.type && 'Meta Type', !it.meta?.format && 'Meta Format', !it.data && 'Data'].filter(Boolean);
          if (missing.length > 0) report(m, at, `Generic Alert item lacks ${missing.join(', ')}`);
        });
      }
    }
  },

  'alert.1223-final': (s, report) => {
    for (const m of decoded(s)) {
      const a = m.cmds.find((c) => alertCode(c.command) === '1223');
      if (a && !isFinal(m)) report(m, a.path, 'session abort (Alert 1223) in a message without Final');
    }
  },

  'alert.1223-client-reply': (s, report) => {
    for (const m of decoded(s)) {
      if (m.from !== 'client') continue;
      const srv = s.prev('server', m.index);
      if (srv && hasAlert(srv, '1223')) report(m, BODY, `the device answers the server's session abort (message ${srv.n})`);
    }
  },

  'alert.1223-server-reply': (s, report) => {
    for (const m of decoded(s)) {
      if (m.from !== 'server') continue;
      const dev = s.prev('client', m.index);
      if (!dev || !hasAlert(dev, '1223')) continue;
      const extra = m.cmds.find((c) => c.command.kind !== 'Status');
      if (extra) report(m, extra.path, `${extra.command.kind} in the answer to the device's session abort (message ${dev.n}): only Statuses may go`);
    }
  },
};
