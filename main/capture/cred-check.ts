/**
 * Credentials in a capture checked against the ones the engineer gives: each MD5 Cred (SyncHdr)
 * and each HMAC header (x-syncml-hmac) is recomputed with the nonce its peer last issued in the
 * capture (NextNonce in a SyncHdr Status' Chal, per device) and marked valid or not in the
 * message's note. A nonce issued before the capture started cannot be known: said so. Pure.
 */
import { authTypeFromMeta, hmacMac, md5Credential, nonceBytes, parseHmacHeader } from '../protocol/auth.js';
import type { SyncML } from '../protocol/model.js';
import type { DecodedImport } from './dm-sessions.js';

export interface Credential {
  name: string;
  secret: string;
}

export interface CredentialCheck {
  client?: Credential | undefined;
  server?: Credential | undefined;
}

function hdrNextNonce(m: SyncML | undefined): string | undefined {
  for (const c of m?.body.commands ?? []) {
    if (c.kind === 'Status' && (c.cmdRef === '0' || c.cmd === 'SyncHdr') && c.chal?.meta.nextNonce) return c.chal.meta.nextNonce;
  }
  return undefined;
}

function addNote(m: { note: string | null }, line: string): void {
  m.note = m.note ? `${m.note}\n${line}` : line;
}

/** Annotates the sessions' messages in place (time order across sessions, per device). */
export function checkCredentials(imports: readonly DecodedImport[], creds: CredentialCheck): void {
  if (!creds.client && !creds.server) return;
  // Nonces per device: the one the server gave the client, and the one the client gave the server.
  const forClient = new Map<string, Uint8Array>();
  const forServer = new Map<string, Uint8Array>();
  const all = imports.flatMap((x) => x.session.messages.map((m, i) => ({ m, decoded: x.decoded[i], headers: x.headers[i]!, device: x.session.device ?? '' })));
  all.sort((a, b) => a.m.at - b.m.at);
  for (const { m, decoded, headers, device } of all) {
    const fromClient = m.direction === 'in';
    const cred = fromClient ? creds.client : creds.server;
    const nonces = fromClient ? forClient : forServer;
    const who = fromClient ? 'client' : 'server';
    if (cred) {
      const nonce = nonces.get(device);
      const type = decoded?.hdr.cred?.meta?.type;
      if (type && authTypeFromMeta(type) === 'md5') {
        if (!nonce) addNote(m, `${who} MD5 credential not checked: its nonce was issued before the capture started`);
        else addNote(m, `${who} MD5 credential for "${cred.name}": ${md5Credential(cred.name, cred.secret, nonce) === decoded!.hdr.cred!.data.trim() ? 'valid' : 'INVALID'}`);
      }
      const hmac = headers.get('x-syncml-hmac');
      if (hmac !== undefined) {
        const f = parseHmacHeader(hmac);
        if (!f) addNote(m, `${who} HMAC header unreadable`);
        else if (!nonce) addNote(m, `${who} HMAC for "${f.username}" not checked: its nonce was issued before the capture started`);
        else addNote(m, `${who} HMAC for "${f.username}": ${f.username === cred.name && hmacMac(cred.name, cred.secret, nonce, m.bytes) === f.mac ? 'valid' : 'INVALID'}`);
      }
    }
    // A nonce this message issues is for the peer's next message.
    const next = hdrNextNonce(decoded);
    if (next !== undefined) (fromClient ? forServer : forClient).set(device, nonceBytes(next));
  }
}
