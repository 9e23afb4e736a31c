/**
 * Authentication (Protocol §9; RepPro §6.1.7 Cred, §6.1.2 Chal): the device authenticates with each
 * scheme when the server asks for it (a 401 with a Chal naming it), uses the nonce it was last
 * given (in the next session too), answers a changed nonce, and refuses a server with wrong
 * credentials (401/407 on our SyncHdr, none of our commands executed).
 */
import { randomBytes } from 'node:crypto';
import type { SyncML } from '../../../protocol/model.js';
import type { ClientAuthMode } from '../../../server/config.js';
import { PROTO, REP, get, type CaseEnv, type CaseTools, type ConformanceCase } from '../dsl.js';

const AUTH = 'Authentication';
const META_TYPE: Record<string, string> = { basic: 'syncml:auth-basic', md5: 'syncml:auth-md5' };

function needsClientCred(env: CaseEnv): string | undefined {
  return env.clientCred ? undefined : 'no client credentials known for the device (--client-cred, or its registered ones)';
}

/** The device's first message the server accepted in the given session (or in the case so far). */
function accepted(t: CaseTools, sessionId?: number) {
  return t.seen.find((m) => !m.refused && (sessionId === undefined || m.sessionId === sessionId));
}

const SCHEMES: readonly ClientAuthMode[] = ['basic', 'md5'];

/** One scheme's case: the device authenticates with it when the server asks. */
function schemeCase(scheme: ClientAuthMode): ConformanceCase {
  return {
    id: `dm12.auth.client-${scheme}`,
    title: `Client authentication with ${scheme === 'hmac' ? 'HMAC (x-syncml-hmac)' : scheme.toUpperCase()} when the server asks for it`,
    clause: `${PROTO} §9.1, §9.3${scheme === 'hmac' ? ', §9.3.2 (HMAC)' : ''}; ${REP} §6.1.7`, group: AUTH,
    needs: needsClientCred,
    config: (env) => ({ clientAuth: scheme, ...(env.clientCred ? { clientCred: env.clientCred } : {}) }),
    *script(t, first) {
      const ok = accepted(t, first.sessionId);
      t.check(`the device authenticated with ${scheme}`, 'a message accepted', ok ? `message ${t.seen.indexOf(ok) + 1} accepted` : 'none', ok !== undefined);
      if (ok && scheme !== 'hmac') {
        const type = ok.message.hdr.cred?.meta?.type;
        t.check('Cred Meta Type of the accepted message', META_TYPE[scheme]!, type ?? 'no Cred', type === META_TYPE[scheme], 'auth.type-known');
      }
      const r = yield t.pkg(get('./DevInfo/Mod'));
      t.expectStatus(r, 0, 200, 'Get ./DevInfo/Mod once authenticated');
    },
  };
}

export const AUTH_CASES: ConformanceCase[] = [
  ...SCHEMES.map(schemeCase),
  {
    id: 'dm12.auth.md5-next-nonce', title: 'MD5: the next session\'s digest uses the NextNonce the server gave last', clause: `${PROTO} §9.3.1 (nonce), §9.1`, group: AUTH,
    needs: needsClientCred,
    config: (env) => ({ clientAuth: 'md5', ...(env.clientCred ? { clientCred: env.clientCred } : {}) }),
    *script(t, first) {
      t.check('the device authenticated with MD5 in the first session', 'a message accepted', accepted(t, first.sessionId) ? 'yes' : 'none', accepted(t, first.sessionId) !== undefined);
      yield t.pkg(get('./DevInfo/Mod'));
      const second = yield t.newSession();
      const firstOfSecond = t.seen.find((m) => m.sessionId === second.sessionId);
      t.check('the first message of the next session', 'accepted (digest with the last NextNonce)', firstOfSecond ? (firstOfSecond.refused ? 'refused (401): the nonce was not the last one given' : 'accepted') : 'none', firstOfSecond !== undefined && !firstOfSecond.refused, 'auth.nonce-not-used');
      const r = yield t.pkg(get('./DevInfo/Mod'));
      t.expectStatus(r, 0, 200, 'Get ./DevInfo/Mod in the next session');
    },
  },
  {
    id: 'dm12.auth.md5-changed-nonce', title: 'MD5: challenged again mid-session with a new nonce (401 + Chal), the device re-sends with a digest on it', clause: `${PROTO} §9.1, §9.3.1; ${REP} §6.1.2 (Chal)`, group: AUTH,
    needs: needsClientCred,
    config: (env) => ({ clientAuth: 'md5', ...(env.clientCred ? { clientCred: env.clientCred } : {}) }),
    *script(t) {
      const from = t.seen.length;
      yield t.pkgWith({ reauthenticate: true }, get('./DevInfo/Mod'));
      const r = yield t.pkg(get('./DevInfo/Man'));
      const after = t.seen.slice(from);
      const refused = after.findIndex((m) => m.refused);
      const retry = refused >= 0 ? after.slice(refused + 1).find((m) => !m.refused) : undefined;
      t.check('the device\'s answer after the new challenge', 'refused once (401), then accepted with MD5 Cred', refused < 0 ? 'never challenged' : retry ? `accepted, Cred ${retry.message.hdr.cred?.meta?.type ?? 'none'}` : 'never accepted again', retry !== undefined && retry.message.hdr.cred?.meta?.type === META_TYPE.md5, 'auth.nonce-not-used');
      t.expectStatus(r, 0, 200, 'Get ./DevInfo/Man after authenticating again');
    },
  },
  {
    id: 'dm12.auth.wrong-server-cred', title: 'Wrong server credentials: 401 or 407 on our SyncHdr, the commands not executed', clause: `${PROTO} §9.1, §9.2 (server authentication); ${REP} §10 (401, 407)`, group: AUTH,
    needs: (env) => (env.serverCred ? undefined : 'the server has no credentials of its own (--server-cred)'),
    *script(t) {
      const bogus = randomBytes(16).toString('base64');
      const wrong = (m: SyncML): SyncML => ({ ...m, hdr: { ...m.hdr, cred: { meta: { type: m.hdr.cred?.meta?.type ?? META_TYPE.md5, format: 'b64' }, data: bogus } } });
      const r = yield t.pkgWith({ rewrite: wrong, hmacHeader: `algorithm=MD5, username="${t.env.serverCred?.name ?? 'dmw'}", mac=${bogus}` }, get('./DevInfo/Mod'));
      const hdr = t.hdrStatus(r);
      t.check('Status of our SyncHdr (wrong credentials)', '401 or 407', hdr ? hdr.data : 'none', hdr !== null && ['401', '407'].includes(hdr.data.trim()));
      const got = t.statuses(r).filter((s) => s.cmd === 'Get').map((s) => s.data.trim());
      const results = t.commands(r).filter((c) => c.kind === 'Results').length;
      t.check('the Get sent with wrong credentials', 'not executed: 401/407 and no Results', `${got.join(' ') || 'no Status'}${results ? `, ${results} Results` : ''}`, got.length > 0 && got.every((c) => c === '401' || c === '407') && results === 0);
    },
  },
  {
    id: 'dm12.auth.server-cred-accepted', title: 'Right server credentials: the device accepts our SyncHdr (200/212) and executes', clause: `${PROTO} §9.1, §9.2`, group: AUTH,
    needs: (env) => (env.serverCred ? undefined : 'the server has no credentials of its own (--server-cred)'),
    *script(t) {
      const r = yield t.pkg(get('./DevInfo/Mod'));
      const hdr = t.hdrStatus(r);
      t.check('Status of our SyncHdr', '200 or 212', hdr ? hdr.data : 'none', hdr !== null && ['200', '212'].includes(hdr.data.trim()), 'status.hdr-missing');
      t.expectStatus(r, 0, 200, 'Get ./DevInfo/Mod');
    },
  },
  // Last: a device without HMAC fails it by ending its session as failed, and a server refuses a
  // device's next sessions with the same SessionID for a while after that (libdmclient's is always 1).
  schemeCase('hmac'),
];
