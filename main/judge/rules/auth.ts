/**
 * Authentication rules (DM Protocol §9; DM RepPro §6.1.2 Chal and §6.1.6 Cred): which credential
 * and challenge types exist and how their data looks, that a 401/407 carries a challenge, that the
 * challenged party comes back with credentials built on the new nonce, that nonces are not handed
 * out twice, and what a message that refuses authentication may contain.
 */
import type { Meta, Status } from '../../protocol/model.js';
import { fromBase64 } from '../../protocol/binary.js';
import { hasAlert, type CmdView, type MsgView, type SessionModel } from '../session-model.js';
import { BODY, decoded, HDR, type Checks } from './rule.js';
import { code, forEachStatus } from './status.js';

const BASIC = 'syncml:auth-basic';
const MD5 = 'syncml:auth-md5';
const MAC = 'syncml:auth-MAC';
const CRED_TYPES = new Set([BASIC, MD5]);
const CHAL_TYPES = new Set([BASIC, MD5, MAC]);

const credType = (meta: Meta | undefined): string => meta?.type?.trim() || BASIC;

/** The Status in `m` that answers the peer's SyncHdr, if any. */
function hdrStatusIn(s: SessionModel, m: MsgView): { view: CmdView; status: Status; of: MsgView } | undefined {
  for (const c of m.cmds) {
    if (c.command.kind !== 'Status' || c.command.cmdRef.trim() !== '0') continue;
    const r = s.referent(c);
    if (r && !r.cmd) return { view: c, status: c.command, of: r.msg };
  }
  return undefined;
}

interface Nonce {
  value: string;
  at: MsgView;
  code: number | undefined;
}

/** Every md5/MAC NextNonce `role` handed out in a SyncHdr Status, in order. */
function noncesFrom(s: SessionModel, role: MsgView['from']): Nonce[] {
  const out: Nonce[] = [];
  for (const m of decoded(s)) {
    if (m.from !== role) continue;
    const h = hdrStatusIn(s, m);
    const meta = h?.status.chal?.meta;
    if (meta?.nextNonce && [MD5, MAC].includes(credType(meta))) out.push({ value: meta.nextNonce.trim(), at: m, code: code(h!.status) });
  }
  return out;
}

export const authChecks: Checks = {
  'auth.type-known': (s, report) => {
    for (const m of decoded(s)) {
      const cr = m.message.hdr.cred;
      if (cr) {
        const t = credType(cr.meta);
        if (t === MAC) report(m, `${HDR}/Cred/Meta/Type`, 'syncml:auth-MAC travels in the x-syncml-hmac transport header, never in Cred');
        else if (!CRED_TYPES.has(t)) report(m, `${HDR}/Cred/Meta/Type`, `Cred type "${t}" is not syncml:auth-basic or syncml:auth-md5`);
      }
      forEachChal(m, (c, meta) => {
        const t = credType(meta);
        if (!CHAL_TYPES.has(t)) report(m, `${c.path}/Chal/Meta/Type`, `challenge type "${t}" is not syncml:auth-basic, syncml:auth-md5 or syncml:auth-MAC`);
      });
    }
  },

  'auth.cred-format': (s, report) => {
    for (const m of decoded(s)) {
      const cr = m.message.hdr.cred;
      if (!cr) continue;
      const t = credType(cr.meta);
      const f = cr.meta?.format?.trim();
      if (t === MD5 && f !== 'b64') report(m, `${HDR}/Cred/Meta`, `an MD5 Cred must say Format b64${f ? `, not ${f}` : ''}`);
      if (t === BASIC && f !== undefined && f !== 'b64') report(m, `${HDR}/Cred/Meta/Format`, `basic credentials are base64: Format ${f} is wrong`);
    }
  },

  'auth.cred-data': (s, report) => {
    for (const m of decoded(s)) {
      const cr = m.message.hdr.cred;
      if (!cr) continue;
      const t = credType(cr.meta);
      const bytes = fromBase64(cr.data.trim());
      if (t === BASIC && (!bytes || !Buffer.from(bytes).toString('utf8').includes(':'))) report(m, `${HDR}/Cred/Data`, 'basic credentials are base64 of "name:password"; this is not');
      if (t === MD5 && bytes?.length !== 16) report(m, `${HDR}/Cred/Data`, `an MD5 digest is 16 bytes in base64; this is ${bytes ? `${bytes.length} bytes` : 'not base64'}`);
    }
  },

  'auth.chal-missing': (s, report) => {
    for (const m of decoded(s)) {
      const hdrChal = hdrStatusIn(s, m)?.status.chal;
      for (const c of m.cmds) {
        if (c.command.kind !== 'Status' || c.command.chal) continue;
        const n = code(c.command);
        if (n !== 401 && n !== 407) continue;
        const onHeader = c.command.cmdRef.trim() === '0';
        if (onHeader || !hdrChal) report(m, c.path, `${n} without a Chal: a 401 or 407 must say how to authenticate`);
      }
    }
  },

  'auth.chal-format': (s, report) => {
    for (const m of decoded(s)) {
      forEachChal(m, (c, meta) => {
        const t = credType(meta);
        if (t !== MD5 && t !== MAC) return;
        const at = `${c.path}/Chal/Meta`;
        if (meta.format?.trim() !== 'b64') report(m, at, `a ${t} challenge must say Format b64`);
        if (!meta.nextNonce) report(m, at, `a ${t} challenge without NextNonce`);
        else if (!fromBase64(meta.nextNonce.trim())) report(m, `${at}/NextNonce`, `NextNonce "${meta.nextNonce}" is not base64`);
      });
    }
  },

  'auth.chal-beside-212': (s, report) => {
    forEachStatus(s, (m, st, c) => {
      if (code(st) !== 212 || !st.chal) return;
      const t = credType(st.chal.meta);
      if (t !== MD5) report(m, `${c.path}/Chal`, `a ${t} challenge beside 212: after 212 only an MD5 next nonce (for the next session) has a use`);
    });
  },

  'auth.cred-after-challenge': (s, report) => {
    for (const m of decoded(s)) {
      const h = hdrStatusIn(s, m);
      const n = h ? code(h.status) : undefined;
      if (!h || (n !== 401 && n !== 407) || credType(h.status.chal?.meta) === MAC) continue;
      // Only a request that is repeated needs them: a last message of Statuses that ends the session does not.
      const retry = s.next(m.to, m.index);
      if (retry?.message && !retry.message.hdr.cred && retry.cmds.some((c) => c.command.kind !== 'Status')) report(retry, HDR, `no Cred after the ${n} challenge in message ${m.n}`);
    }
  },

  'auth.repeat-package1': (s, report) => {
    for (const m of decoded(s)) {
      if (m.from !== 'server') continue;
      const h = hdrStatusIn(s, m);
      const n = h ? code(h.status) : undefined;
      if (!h || (n !== 401 && n !== 407) || !hasAlert(h.of, '1200', '1201')) continue;
      const retry = s.next('client', m.index);
      if (!retry?.message) continue;
      const alert = hasAlert(retry, '1200', '1201');
      const devInfo = retry.cmds.some((c) => c.command.kind === 'Replace');
      if (!alert || !devInfo) report(retry, BODY, `after the ${n} on package 1 (message ${m.n}) the device must send package 1 again: ${[!alert && 'Alert 1200/1201', !devInfo && 'DevInfo'].filter(Boolean).join(' and ')} missing`);
    }
  },

  'auth.failure-only-status': (s, report) => {
    for (const m of decoded(s)) {
      const h = hdrStatusIn(s, m);
      const n = h ? code(h.status) : undefined;
      if (n !== 401 && n !== 407) continue;
      const extra = m.cmds.find((c) => c.command.kind !== 'Status');
      if (extra) report(m, extra.path, `${extra.command.kind} in a message that refuses authentication (${n}): such a message carries Statuses only`);
    }
  },

  'auth.type-constant': (s, report) => {
    const accepted: Partial<Record<MsgView['from'], string>> = {};
    for (const m of decoded(s)) {
      const cr = m.message.hdr.cred;
      if (!cr) continue;
      const t = credType(cr.meta);
      const was = accepted[m.from];
      if (was !== undefined && was !== t) report(m, `${HDR}/Cred/Meta/Type`, `${t} after ${was} was accepted: the authentication type stays the same for the session`);
      const answer = s.next(m.to, m.index);
      const h = answer ? hdrStatusIn(s, answer) : undefined;
      const n = h && h.of === m ? code(h.status) : undefined;
      if (was === undefined && (n === 200 || n === 212)) accepted[m.from] = t;
    }
  },

  'auth.nonce-not-used': (s, report) => {
    for (const role of ['client', 'server'] as const) {
      // In message order: `before` gathers the nonces given before the last digest as that moves
      // on, and each search for a fresh one reads only the nonces between two digests (linear).
      const nonces = noncesFrom(s, role === 'client' ? 'server' : 'client');
      const before = new Set<string>();
      let gathered = 0;
      let last: { data: string; at: MsgView } | undefined;
      for (const m of decoded(s)) {
        if (m.from !== role) continue;
        const cr = m.message.hdr.cred;
        if (!cr || credType(cr.meta) !== MD5) continue;
        const data = cr.data.trim();
        if (last && last.data === data) {
          while (gathered < nonces.length && nonces[gathered]!.at.index < last.at.index) before.add(nonces[gathered++]!.value);
          let fresh: Nonce | undefined;
          for (let j = gathered; j < nonces.length && nonces[j]!.at.index < m.index && !fresh; j++) {
            const x = nonces[j]!;
            if (x.at.index > last.at.index && x.code !== 212 && !before.has(x.value)) fresh = x;
          }
          if (fresh) report(m, `${HDR}/Cred/Data`, `the same digest as in message ${last.at.n}, though message ${fresh.at.n} gave a new nonce to use`);
        }
        last = { data, at: m };
      }
    }
  },

  'auth.nonce-repeated': (s, report) => {
    for (const role of ['client', 'server'] as const) {
      // A nonce beside 212 is for the next session: saying it again is no reuse. One beside 200, 401
      // or 407 is for the next request, and must not be one handed out before.
      const seen = new Map<string, MsgView>();
      for (const n of noncesFrom(s, role)) {
        const first = seen.get(n.value);
        if (first && n.code !== 212) report(n.at, BODY, `NextNonce ${n.value} was already given in message ${first.n}: a nonce is used once`);
        else if (!first) seen.set(n.value, n.at);
      }
    }
  },
};

function forEachChal(m: MsgView, f: (c: CmdView, meta: Meta) => void): void {
  for (const c of m.cmds) if (c.command.kind === 'Status' && c.command.chal) f(c, c.command.chal.meta);
}
