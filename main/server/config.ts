/**
 * Every limit and knob of the DM server, named, with its default. The engine, the listener and the
 * store read them from here; `dmw server` and the API only override.
 */
import type { AuthType } from '../protocol/auth.js';
import { MAX_DEVICE_ID_LENGTH } from '../protocol/device-id.js';
import { DEFAULT_MAX_JOB_ATTEMPTS } from '../store/job-settlement.js';
import type { Credential } from '../store/types.js';

export type ClientAuthMode = 'none' | AuthType;
/** How the server proves itself to the client: Cred in SyncHdr (basic/md5) or the x-syncml-hmac header. */
export type ServerAuthMode = 'none' | AuthType;

/** A name and secret (the store's type: the device registry keeps them). */
export type { Credential } from '../store/types.js';

export interface ServerLimits {
  /** Largest HTTP body accepted; bigger ones get HTTP 413 and are not read further. */
  maxBodyBytes: number;
  /**
   * Bytes of request bodies held at once, read or being read, until each is answered (body-budget.ts):
   * a request whose Content-Length does not fit gets HTTP 503 + Retry-After, unread; one without
   * Content-Length counts its chunks as they arrive and gets the same 503 when one does not fit.
   * At least maxBodyBytes.
   */
  maxBodyBytesInFlight: number;
  /** TCP connections open at once (DM devices and the management API); the listener closes any beyond at once. */
  maxConnections: number;
  /**
   * How long a client may take to send a request's headers, and the whole request (its body too),
   * before the listener answers HTTP 408 naming both and closes the connection. At most the request
   * timeout (without one of its own, the headers timeout follows a shorter request timeout down).
   */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
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

  // --- before authentication (README "Limits before authentication"): what a device that has not
  // proved who it is may cost. Nothing of such a session is stored until it authenticates.
  /** Sessions that have not authenticated yet, open at once: their own pool, apart from maxSessions. */
  maxPreAuthSessions: number;
  /** Of those, from one source address (an IPv4 address, or an IPv6 /64). */
  maxPreAuthSessionsPerAddress: number;
  /** An unauthenticated session with no message for this long is dropped (its slot freed). */
  preAuthTimeoutMs: number;
  /** Largest message a session that has not authenticated may send (HTTP 413 beyond). */
  maxPreAuthMessageBytes: number;
  /**
   * Failed credential checks from one source address: a bucket of `authFailureBurstPerAddress`,
   * refilled by one every `authFailureRefillMsPerAddress`. Empty: that address's attempts are refused
   * unchecked (HTTP 503 + Retry-After), except from DevIds in good standing.
   */
  authFailureBurstPerAddress: number;
  authFailureRefillMsPerAddress: number;
  /**
   * Failed checks against one credential name (the device's own or the lab default). Empty: attempts
   * for it are refused unchecked from addresses that failed within `suspectAddressMs`; a clean
   * address is still checked, so the right credential is never locked out by someone else's guesses.
   */
  authFailureBurstPerCredential: number;
  authFailureRefillMsPerCredential: number;
  /** An address whose last failed check is younger than this is suspect (see above, and the per-device lockout). */
  suspectAddressMs: number;
  /** Entries each throttle table keeps (addresses, credential names, devices without a row, DevIds in good standing, ended sessions). */
  maxThrottleEntries: number;
  /** Recent refusals before authentication kept for the API (GET /api/v1/auth-failures) and the UI. */
  failureRingSize: number;

  // --- header values (HTTP 400 naming the field and its length beyond; never echoed) ---------
  /** SyncHdr Source LocURI: the DevId. */
  maxDevIdLength: number;
  maxSessionIdLength: number;
  /** SyncHdr Target LocURI (our URL as the device knows it) and RespURI. */
  maxLocUriLength: number;
  /** Any other SyncHdr value (MsgID, VerDTD, VerProto, LocName, Meta) and the CmdID/MsgRef/CmdRef of body commands, which statuses echo. */
  maxHeaderFieldLength: number;
  /** SyncHdr Cred Data. */
  maxCredLength: number;
}

export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxBodyBytes: 4 * 1024 * 1024,
  maxBodyBytesInFlight: 64 * 1024 * 1024,
  maxConnections: 4096,
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 120_000,
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
  maxJobAttempts: DEFAULT_MAX_JOB_ATTEMPTS,
  maxDiscoverNodes: 5000,
  maxServerAuthRetries: 2,
  maxHoldMs: 25_000,
  maxPreAuthSessions: 256,
  maxPreAuthSessionsPerAddress: 16,
  preAuthTimeoutMs: 15_000,
  maxPreAuthMessageBytes: 64 * 1024,
  authFailureBurstPerAddress: 10,
  authFailureRefillMsPerAddress: 6_000,
  authFailureBurstPerCredential: 20,
  authFailureRefillMsPerCredential: 3_000,
  suspectAddressMs: 10 * 60_000,
  maxThrottleEntries: 10_000,
  failureRingSize: 200,
  maxDevIdLength: MAX_DEVICE_ID_LENGTH,
  maxSessionIdLength: 64,
  maxLocUriLength: 1024,
  maxHeaderFieldLength: 256,
  maxCredLength: 1024,
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
    limits: withDefaults(limits),
  };
}

/**
 * The defaults under what was given. A larger maxBodyBytes without a maxBodyBytesInFlight of its own
 * raises that too, to one such body: `--max-body 100000000` alone must not make the server refuse to start.
 * Likewise a request timeout under the default headers timeout, given alone, brings that down with it.
 */
function withDefaults(given: Partial<ServerLimits> | undefined): ServerLimits {
  const l = { ...DEFAULT_LIMITS, ...given };
  if (given?.maxBodyBytesInFlight === undefined) l.maxBodyBytesInFlight = Math.max(DEFAULT_LIMITS.maxBodyBytesInFlight, l.maxBodyBytes);
  if (given?.headersTimeoutMs === undefined) l.headersTimeoutMs = Math.min(DEFAULT_LIMITS.headersTimeoutMs, l.requestTimeoutMs);
  return l;
}

/** `NAME:SECRET` as the CLI takes it; the secret may itself contain colons. */
export function parseCredential(text: string): Credential | undefined {
  const i = text.indexOf(':');
  if (i <= 0) return undefined;
  return { name: text.slice(0, i), secret: text.slice(i + 1) };
}
