/**
 * Every limit and knob of the DM server, named, with its default. The engine, the listener and the
 * store read them from here; `dmw server` and the API only override.
 */
import type { AuthType } from '../protocol/auth.js';

export type ClientAuthMode = 'none' | AuthType;
/** How the server proves itself to the client: Cred in SyncHdr (basic/md5) or the x-syncml-hmac header. */
export type ServerAuthMode = 'none' | AuthType;

export interface Credential {
  name: string;
  secret: string;
}

export interface ServerLimits {
  /** Largest HTTP body accepted; bigger ones get HTTP 413 and are not read further. */
  maxBodyBytes: number;
  /** Sessions open at once; a new one beyond this gets HTTP 503. */
  maxSessions: number;
  /** A session with no message for this long is closed ('timeout') and its unanswered jobs requeued. */
  sessionTimeoutMs: number;
  /** An MD5/HMAC nonce older than this is refused (401 + a fresh Chal), even if the digest matches. */
  nonceMaxAgeMs: number;
  /** MaxMsgSize the server advertises: what it accepts in one message. */
  maxMsgSize: number;
  /** MaxObjSize the server advertises: the largest object it assembles from chunks. */
  maxObjSize: number;
  /** What we assume a client accepts in one message when it does not say (no MaxMsgSize). */
  assumedClientMaxMsgSize: number;
  /** Authentication failures per device within `authFailureWindowMs` before the device is throttled. */
  maxAuthFailures: number;
  authFailureWindowMs: number;
  /** How long a throttled device is refused, without its credentials being checked. */
  authLockoutMs: number;
  /** Challenges answered within one session before the server gives up on it. */
  maxAuthAttemptsPerSession: number;
  /** Sessions a job may go out in without an answer before it is marked failed. */
  maxJobAttempts: number;
  /** Commands one "discover tree" walk may issue (fallback when ?list=Struct is refused). */
  maxDiscoverNodes: number;
  /** Times the server re-sends commands the client refused for bad server credentials, per session. */
  maxServerAuthRetries: number;
  /**
   * Longest the step control holds an answer (the device's HTTP request open) before releasing it
   * by itself as one Step. It must stay under the client's HTTP timeout, or a forgotten pause kills
   * the session: our virtual handsets give up after 30 s (main/client/transport.ts), so 25 s.
   */
  maxHoldMs: number;
}

export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxBodyBytes: 4 * 1024 * 1024,
  maxSessions: 256,
  sessionTimeoutMs: 5 * 60_000,
  nonceMaxAgeMs: 7 * 24 * 3600_000,
  maxMsgSize: 1024 * 1024,
  maxObjSize: 64 * 1024 * 1024,
  assumedClientMaxMsgSize: 64 * 1024,
  maxAuthFailures: 5,
  authFailureWindowMs: 10 * 60_000,
  authLockoutMs: 5 * 60_000,
  maxAuthAttemptsPerSession: 3,
  maxJobAttempts: 3,
  maxDiscoverNodes: 5000,
  maxServerAuthRetries: 2,
  maxHoldMs: 25_000,
});

export interface EngineConfig {
  /** The server's URI as it appears in SyncHdr Source (and the base of RespURI). */
  serverUri: string;
  /** DMAcc ServerID: used in package #0 and as the default server credential name. */
  serverId: string;
  clientAuth: ClientAuthMode;
  /** Credentials of devices the registry has none for (`--client-cred`). */
  defaultClientCred?: Credential;
  /** The server's own credentials (`--server-cred`); without them no Cred goes to the client. */
  serverCred?: Credential;
  /** Scheme used for the server's Cred until the client's Chal names another. */
  serverAuth: ServerAuthMode;
  /** Require a verified TLS client certificate whose CN equals the DevId. */
  requireClientCert: boolean;
  limits: ServerLimits;
}

export function engineConfig(partial: Partial<Omit<EngineConfig, 'limits'>> & { limits?: Partial<ServerLimits> } = {}): EngineConfig {
  const { limits, ...rest } = partial;
  return {
    serverUri: 'http://localhost/dm',
    serverId: 'dmw',
    clientAuth: 'none',
    serverAuth: 'md5',
    requireClientCert: false,
    ...rest,
    limits: { ...DEFAULT_LIMITS, ...limits },
  };
}

/** `NAME:SECRET` as the CLI takes it; the secret may itself contain colons. */
export function parseCredential(text: string): Credential | undefined {
  const i = text.indexOf(':');
  if (i <= 0) return undefined;
  return { name: text.slice(0, i), secret: text.slice(i + 1) };
}
