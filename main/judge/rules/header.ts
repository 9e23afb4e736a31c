/**
 * SyncHdr rules: versions, SessionID, MsgID, addresses, RespURI and MaxMsgSize (DM Protocol §8.3
 * to §8.6, DM RepPro §6.1), and whether a message is a DM message at all.
 */
import type { MsgView } from '../session-model.js';
import { decoded, HDR, isDecimal, positive, type Checks } from './rule.js';

const PROTOCOLS: Readonly<Record<string, string>> = { 'DM/1.1': '1.1', 'DM/1.2': '1.2', 'DM/1.3': '1.2' };
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/?#]+\S*$/;

export const headerChecks: Checks = {
  'msg.decode': (s, report) => {
    for (const m of s.msgs) if (m.decodeError) report(m, 'SyncML', `not a DM message: ${m.decodeError}`);
  },

  'hdr.verproto': (s, report) => {
    for (const m of decoded(s)) {
      const v = m.message.hdr.verProto;
      if (!(v in PROTOCOLS)) report(m, `${HDR}/VerProto`, `VerProto is "${v}"; a DM 1.2 message says DM/1.2 (DM/1.1 and DM/1.3 are the other DM versions)`);
    }
  },

  'hdr.verdtd': (s, report) => {
    for (const m of decoded(s)) {
      const want = PROTOCOLS[m.message.hdr.verProto];
      if (want !== undefined && m.message.hdr.verDTD !== want) report(m, `${HDR}/VerDTD`, `VerDTD is "${m.message.hdr.verDTD}"; with ${m.message.hdr.verProto} it must be ${want}`);
    }
  },

  'hdr.version-constant': (s, report) => {
    let first: MsgView['message'];
    for (const m of decoded(s)) {
      if (!first) { first = m.message; continue; }
      const { verProto, verDTD } = m.message.hdr;
      if (verProto !== first.hdr.verProto || verDTD !== first.hdr.verDTD) {
        report(m, `${HDR}/VerProto`, `${verProto} / VerDTD ${verDTD}, but the session started with ${first.hdr.verProto} / VerDTD ${first.hdr.verDTD}`);
      }
    }
  },

  'hdr.sessionid': (s, report) => {
    let first: string | undefined;
    for (const m of decoded(s)) {
      const id = m.message.hdr.sessionID;
      if (first === undefined) first = id;
      else if (id !== first) report(m, `${HDR}/SessionID`, `SessionID is "${id}", but the session's first message said "${first}"`);
    }
  },

  'hdr.msgid-unique': (s, report) => {
    const seen = { client: new Map<string, number>(), server: new Map<string, number>() };
    for (const m of decoded(s)) {
      const id = m.message.hdr.msgID.trim();
      const key = isDecimal(id) ? String(Number(id)) : id;
      const earlier = seen[m.from].get(key);
      if (earlier !== undefined) report(m, `${HDR}/MsgID`, `MsgID ${id} was already used by the ${m.from} in message ${earlier}`);
      else seen[m.from].set(key, m.n);
    }
  },

  'hdr.msgid-sequence': (s, report) => {
    const last: Record<string, number | undefined> = {};
    const used = { client: new Set<number>(), server: new Set<number>() };
    for (const m of decoded(s)) {
      const raw = m.message.hdr.msgID.trim();
      if (!isDecimal(raw)) { report(m, `${HDR}/MsgID`, `MsgID "${raw}" is not a number`); continue; }
      const id = Number(raw);
      const prev = last[m.from];
      last[m.from] = id;
      if (used[m.from].has(id)) continue; // a repeat is hdr.msgid-unique's finding
      used[m.from].add(id);
      if (prev === undefined) {
        if (s.complete && id !== 1) report(m, `${HDR}/MsgID`, `the ${m.from}'s first message has MsgID ${id}; the sequence starts at 1`);
      } else if (id !== prev + 1) report(m, `${HDR}/MsgID`, `MsgID ${id} follows ${prev}; expected ${prev + 1}`);
    }
  },

  'hdr.target-source': (s, report) => {
    let device: string | undefined;
    let server: string | undefined;
    for (const m of decoded(s)) {
      const { target, source } = m.message.hdr;
      if (m.from === 'client') {
        if (device === undefined) device = source.locURI;
        else if (source.locURI !== device) report(m, `${HDR}/Source/LocURI`, `the device calls itself "${source.locURI}" here but "${device}" earlier in the session`);
      } else {
        const lastClient = s.prev('client', m.index)?.message;
        if (lastClient && target.locURI !== lastClient.hdr.source.locURI) {
          report(m, `${HDR}/Target/LocURI`, `Target is "${target.locURI}", but the device it answers is "${lastClient.hdr.source.locURI}"`);
        }
        if (server === undefined) server = source.locURI;
        else if (source.locURI !== server) report(m, `${HDR}/Source/LocURI`, `the server calls itself "${source.locURI}" here but "${server}" earlier in the session`);
      }
    }
  },

  'hdr.respuri': (s, report) => {
    for (const m of decoded(s)) {
      const r = m.message.hdr.respURI;
      if (r !== undefined && !ABSOLUTE_URI.test(r.trim())) report(m, `${HDR}/RespURI`, `RespURI "${r}" is not an absolute URI`);
    }
  },

  'hdr.respuri-followed': (s, report) => {
    for (const m of decoded(s)) {
      if (m.from !== 'client' || m.url === undefined) continue;
      const last = s.prev('server', m.index)?.message?.hdr.respURI?.trim();
      if (last && m.url !== last) report(m, HDR, `sent to ${m.url}, but the server's last message gave RespURI ${last}`);
    }
  },

  'hdr.maxmsgsize': (s, report) => {
    for (const m of s.msgs) {
      if (m.size === undefined) continue;
      const a = s.announced(m.to, m.index, 'maxMsgSize');
      if (a && m.size > a.limit) report(m, 'SyncML', `message is ${m.size} bytes; the ${m.to} announced MaxMsgSize ${a.limit} (message ${a.at.n})`);
    }
  },

  'meta.size-value': (s, report) => {
    for (const m of decoded(s)) {
      const hm = m.message.hdr.meta;
      for (const f of ['maxMsgSize', 'maxObjSize'] as const) {
        const v = hm?.[f];
        if (v !== undefined && positive(v) === undefined) report(m, `${HDR}/Meta/${f[0]!.toUpperCase()}${f.slice(1)}`, `${f === 'maxMsgSize' ? 'MaxMsgSize' : 'MaxObjSize'} "${v}" is not a positive byte count`);
      }
      for (const c of m.cmds) {
        const cm = 'meta' in c.command ? c.command.meta : undefined;
        if (cm?.size !== undefined && !isDecimal(cm.size)) report(m, `${c.path}/Meta/Size`, `Size "${cm.size}" is not a byte count`);
        const items = 'items' in c.command ? c.command.items : [];
        items.forEach((it, i) => {
          if (it.meta?.size !== undefined && !isDecimal(it.meta.size)) report(m, `${c.path}/${items.length > 1 ? `Item[${i + 1}]` : 'Item'}/Meta/Size`, `Size "${it.meta.size}" is not a byte count`);
        });
      }
    }
  },
};

