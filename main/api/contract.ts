/**
 * The one typed contract between the UI and the backend: for every channel an input and an output
 * schema, for every event a payload schema. Both transports (Electron IPC via the preload, WebSocket
 * for `npm run serve`) carry exactly these, and both validate at the boundary: the backend parses
 * every call's input (the UI is the untrusted side) and its own output (a backend bug becomes a typed
 * error, not a broken view); the UI parses every event it receives.
 *
 * This module runs in the browser too: it imports zod and types only, never Node.
 */
import { z } from 'zod';
import type { ChannelName, EventName } from './channels.js';
import { MAX_DEVICE_ID_LENGTH } from '../protocol/device-id.js';
import type { SessionState } from '../server/types.js';
import { packetChannels } from './contract-packets.js';
import { profileChannels } from './contract-profiles.js';
import { conformanceContract } from './contract-conformance.js';
import { traceChannels } from './contract-traces.js';
import { certificateDevIdProblem, integerValueProblem, MAX_HANDSETS_PER_ADD, publicUrlProblem, SETTING_RANGES } from './form-rules.js';

/** A number setting checked by the same words the form shows (form-rules.ts). */
const ranged = (k: keyof typeof SETTING_RANGES) => z.number().superRefine((n, ctx) => {
  const [min, max] = SETTING_RANGES[k];
  const why = integerValueProblem(n, min, max);
  if (why) ctx.addIssue({ code: 'custom', message: why });
});

/** Every state a session can be in, in the order the Sessions view offers them as a filter. */
export const SESSION_STATES = ['active', 'done', 'aborted', 'timeout', 'interrupted', 'failed', 'rejected', 'imported'] as const satisfies readonly SessionState[];
/** A state added to SessionState and not listed above fails the typecheck here. */
export const SESSION_STATES_COMPLETE: Exclude<SessionState, (typeof SESSION_STATES)[number]> extends never ? true : never = true;

// --- shared pieces ------------------------------------------------------------------------------

const devId = z.string().min(1).max(MAX_DEVICE_ID_LENGTH);
const dmUri = z
  .string()
  .min(1)
  .max(4096)
  .refine((u) => u === '.' || u.startsWith('./') || /^[A-Za-z0-9]/.test(u), 'not a DM URI');
const isoTime = z.string();
const credential = z.object({ name: z.string().min(1).max(256), secret: z.string().max(1024) });
const empty = z.object({}).strict();

export const CredentialSchema = credential;

// --- jobs (mirrors main/server/types.ts JobSpec; the server re-checks with parseJobSpec) --------

const valueSpec = {
  value: z.string().max(64 * 1024 * 1024).optional(),
  format: z.string().max(64).optional(),
  type: z.string().max(256).optional(),
  binary: z.boolean().optional(),
};
const UiAlertKind = z.enum(['display', 'confirm', 'input', 'single', 'multiple']);
const SimpleJobSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('get'), uri: dmUri }),
  z.object({ kind: z.literal('replace'), uri: dmUri, ...valueSpec }),
  z.object({ kind: z.literal('add'), uri: dmUri, ...valueSpec }),
  z.object({ kind: z.literal('delete'), uri: dmUri }),
  z.object({ kind: z.literal('exec'), uri: dmUri, data: z.string().optional(), correlator: z.string().optional(), format: z.string().optional(), type: z.string().optional() }),
  z.object({ kind: z.literal('copy'), uri: dmUri, source: dmUri }),
  z.object({ kind: z.literal('alert'), alert: UiAlertKind, text: z.string(), choices: z.array(z.string()).optional(), options: z.record(z.string(), z.union([z.string(), z.number()])).optional() }),
]);
export const JobSpecSchema = z.union([
  SimpleJobSpec,
  z.object({ kind: z.enum(['atomic', 'sequence']), commands: z.array(SimpleJobSpec).min(1).max(1000) }),
  z.object({ kind: z.enum(['discover', 'read-acl']), uri: dmUri }),
]);
export type JobSpecInput = z.infer<typeof JobSpecSchema>;

const JobStatus = z.enum(['queued', 'sent', 'done', 'failed', 'unconfirmed']);
/** What happens to a job whose command went out without a Status coming back (main/server/unconfirmed.ts). */
const UnconfirmedPolicy = z.enum(['ask', 'verify', 'resend', 'drop']);
const JobResult = z.object({ uri: z.string(), format: z.string().nullable(), data: z.string().nullable(), type: z.string().optional(), encoding: z.literal('b64').optional() });
export const JobRecordSchema = z.object({
  id: z.number().int(),
  device: z.string(),
  command: z.string(),
  target: z.string(),
  status: JobStatus,
  statusCode: z.number().int().nullable(),
  results: z.array(JobResult),
  members: z.array(z.object({ cmd: z.string(), uri: z.string(), statusCode: z.number().int().nullable() })),
  spec: z.unknown(),
  sessionId: z.number().int().nullable(),
  attempts: z.number().int(),
  error: z.string().nullable(),
  onUnconfirmed: UnconfirmedPolicy.optional(),
  /** It goes out next with a read-back of its node first (the "verify" decision). */
  verify: z.boolean().optional(),
  createdAt: isoTime,
  updatedAt: isoTime,
});
export type JobView = z.infer<typeof JobRecordSchema>;

/** A job held by the UI backend while the device's queue is paused (not yet given to the server). */
const HeldJob = z.object({ heldId: z.number().int(), device: z.string(), spec: JobSpecSchema, notify: z.boolean(), createdAt: isoTime });
/** The step control inside an open session: the device's request waits for our answer until Step or Resume. */
const HeldSession = z.object({
  sessionId: z.number().int(),
  since: isoTime,
  /** When the answer goes by itself (the hold limit), as one Step. */
  releaseAt: isoTime,
  /** The command Step sends (null: none waiting). */
  next: z.object({ jobId: z.number().int(), cmd: z.string(), target: z.string() }).nullable(),
  /** Commands waiting in the session, the next one included. */
  pending: z.number().int(),
});
export type HeldSessionView = z.infer<typeof HeldSession>;
export const QueueStateSchema = z.object({
  device: z.string(),
  paused: z.boolean(),
  held: z.array(HeldJob),
  /** Set while the device is in a session and its answer is held (absent from older backends). */
  session: HeldSession.nullable().optional(),
});
export type QueueState = z.infer<typeof QueueStateSchema>;

// --- server -------------------------------------------------------------------------------------

export const ServerSettingsSchema = z.object({
  port: ranged('port'),
  host: z.string().min(1).max(255),
  tls: z.boolean(),
  clientCerts: z.enum(['off', 'optional', 'require']),
  serverId: z.string().min(1).max(128),
  clientAuth: z.enum(['none', 'basic', 'md5', 'hmac']),
  defaultClientCred: credential.nullable(),
  serverCred: credential.nullable(),
  serverAuth: z.enum(['none', 'basic', 'md5', 'hmac']),
  requireClientCert: z.boolean(),
  publicUrl: z.string().max(2048).refine((u) => publicUrlProblem(u) === null, { error: (i) => publicUrlProblem(String(i.input)) ?? 'not a URL' }).nullable(),
  sessionTimeoutSec: ranged('sessionTimeoutSec'),
  maxMsgSize: ranged('maxMsgSize'),
  /** Longest a paused device's answer is held before it goes by itself as one Step (keep it under the device's HTTP timeout). */
  stepHoldSec: ranged('stepHoldSec').optional(),
});
export type ServerSettings = z.infer<typeof ServerSettingsSchema>;

export const ServerStatusSchema = z.object({
  running: z.boolean(),
  /** Where devices POST (null when stopped). */
  url: z.string().nullable(),
  port: z.number().int().nullable(),
  startedAt: isoTime.nullable(),
  dataDir: z.string(),
  settings: ServerSettingsSchema,
  /** The last start failure, in words. */
  error: z.string().nullable(),
  /** The lab CA exists in the data folder (created with the first TLS start or certificate). */
  caExists: z.boolean(),
  activeSessions: z.number().int(),
});
export type ServerStatus = z.infer<typeof ServerStatusSchema>;

/** What the DM server refused before devices authenticated (main/server/server.ts AuthFailuresView, GET /api/v1/auth-failures). */
export const AuthFailuresSchema = z.object({
  recent: z.array(z.object({
    at: isoTime, firstAt: isoTime,
    kind: z.enum(['auth-failed', 'throttled', 'locked', 'refused', 'session-over', 'busy', 'rejected']),
    address: z.string(), devId: z.string().nullable(), credential: z.string().nullable(), reason: z.string(), count: z.number().int(),
  })),
  counts: z.record(z.string(), z.number().int()),
  throttled: z.object({
    addresses: z.array(z.object({ address: z.string(), tokens: z.number(), lastFailureAt: isoTime })),
    credentials: z.array(z.object({ credential: z.string(), tokens: z.number() })),
    goodStanding: z.number().int(),
  }),
  sessions: z.object({ authenticated: z.number().int(), maxSessions: z.number().int(), preAuth: z.number().int(), maxPreAuthSessions: z.number().int(), maxPreAuthSessionsPerAddress: z.number().int() }),
});
export type AuthFailures = z.infer<typeof AuthFailuresSchema>;

const PemBundle = z.object({ fileName: z.string(), pem: z.string() });

// --- devices and virtual handsets ---------------------------------------------------------------

export const DeviceSummarySchema = z.object({
  devId: z.string(),
  model: z.string().nullable(),
  manufacturer: z.string().nullable(),
  devInfo: z.record(z.string(), z.string()),
  firstSeen: isoTime,
  lastSeen: isoTime,
  lastSession: z.object({ id: z.number().int(), state: z.string(), startedAt: isoTime, endedAt: isoTime.nullable() }).nullable(),
  /** 'in session' while a session is open, else 'idle'. */
  state: z.enum(['in-session', 'idle']),
  hasOwnCredentials: z.boolean(),
  notifyUrl: z.string().nullable(),
  jobs: z.object({ queued: z.number().int(), sent: z.number().int(), done: z.number().int(), failed: z.number().int(), held: z.number().int(), unconfirmed: z.number().int().optional() }),
  paused: z.boolean(),
  virtual: z.boolean(),
});
export type DeviceSummary = z.infer<typeof DeviceSummarySchema>;

export const VirtualHandsetSchema = z.object({
  devId: z.string(),
  model: z.string(),
  running: z.boolean(),
  sessions: z.number().int(),
  lastSessionAt: isoTime.nullable(),
  lastError: z.string().nullable(),
});
export type VirtualHandsetView = z.infer<typeof VirtualHandsetSchema>;

export const HandsetsStatusSchema = z.object({
  /** False while the virtual handset module (main/client) is not part of this build. */
  available: z.boolean(),
  /** Why the controls are disabled, in words a user can act on. */
  reason: z.string().nullable(),
  /** Which implementation drives them (module path), for the record. */
  provider: z.string().nullable(),
  handsets: z.array(VirtualHandsetSchema),
});
export type HandsetsStatus = z.infer<typeof HandsetsStatusSchema>;

// --- sessions -----------------------------------------------------------------------------------

export const SessionSummarySchema = z.object({
  id: z.number().int(),
  device: z.string().nullable(),
  dmSessionId: z.string().nullable(),
  state: z.string(),
  encoding: z.string().nullable(),
  authType: z.string().nullable(),
  startedAt: isoTime,
  endedAt: isoTime.nullable(),
  reason: z.string().nullable(),
  messageCount: z.number().int(),
});
export type SessionSummary = z.infer<typeof SessionSummarySchema>;

/** One command of a message, with the Status (and Results) the peer gave it, found by MsgRef/CmdRef. */
const CommandView = z.object({
  cmdId: z.string(),
  kind: z.string(),
  /** Target (or Source) LocURIs of its items. */
  targets: z.array(z.string()),
  /** Short text: item data, alert code, status code. */
  summary: z.string(),
  depth: z.number().int(),
  /** For Status / Results: what they answer. */
  ref: z.object({ msgRef: z.string(), cmdRef: z.string(), cmd: z.string().nullable() }).nullable(),
  /** For commands: the answer, when the log has it. */
  status: z.object({ code: z.string(), seq: z.number().int() }).nullable(),
  results: z.array(z.object({ seq: z.number().int(), summary: z.string() })),
});
export type CommandViewT = z.infer<typeof CommandView>;

const AuthView = z.object({
  /** SyncHdr Cred: scheme and user name (the digest itself is not interesting to read). */
  cred: z.object({ type: z.string().nullable(), name: z.string().nullable() }).nullable(),
  /** Status on SyncHdr: code and challenge. */
  hdrStatus: z.object({ code: z.string(), chalType: z.string().nullable(), nextNonce: z.string().nullable() }).nullable(),
});

export const MessageSummarySchema = z.object({
  id: z.number().int(),
  seq: z.number().int(),
  direction: z.enum(['in', 'out']),
  at: isoTime,
  /** Milliseconds since the session's first message. */
  offsetMs: z.number(),
  durationMs: z.number().nullable(),
  msgId: z.string().nullable(),
  size: z.number().int(),
  contentType: z.string().nullable(),
  httpStatus: z.number().int().nullable(),
  final: z.boolean().nullable(),
  error: z.string().nullable(),
  note: z.string().nullable(),
  commands: z.array(CommandView),
  auth: AuthView,
});
export type MessageSummary = z.infer<typeof MessageSummarySchema>;

export const SessionDetailSchema = z.object({
  session: SessionSummarySchema,
  messages: z.array(MessageSummarySchema),
  jobs: z.array(JobRecordSchema),
  /**
   * A long session (main/api/session-pages.ts): only messages[0 .. summarized) carry their commands
   * and auth; the others are envelopes (commands []) until sessions.summaries fills them in. Absent: all do.
   */
  summarized: z.number().int().optional(),
});
export type SessionDetail = z.infer<typeof SessionDetailSchema>;

export const MessageDetailSchema = z.object({
  id: z.number().int(),
  sessionId: z.number().int(),
  seq: z.number().int(),
  direction: z.enum(['in', 'out']),
  encoding: z.enum(['xml', 'wbxml']).nullable(),
  /** Pretty XML (decoded), or null when undecodable. */
  xml: z.string().nullable(),
  /** WBXML token dump (dmw codec inspect), for WBXML messages. */
  tokens: z.string().nullable(),
  /** The bytes as received or sent, base64. */
  base64: z.string(),
  error: z.string().nullable(),
  note: z.string().nullable(),
});
export type MessageDetail = z.infer<typeof MessageDetailSchema>;

// --- expert findings (main/judge, main/api/findings-view.ts) -------------------------------------

const Severity = z.enum(['error', 'warning', 'note']);
/** One finding, the fields of `dmw session check --json`. */
export const FindingSchema = z.object({
  severity: Severity,
  rule: z.string(),
  clause: z.string(),
  /** The message's seq in the session (MessageSummary.seq). */
  msg: z.number().int(),
  path: z.string(),
  text: z.string(),
});
export type FindingView = z.infer<typeof FindingSchema>;
export const SeverityCountsSchema = z.object({
  error: z.number().int(), warning: z.number().int(), note: z.number().int(),
  /** Set when the session was not judged (longer than the app judges), saying why. */
  skipped: z.string().optional(),
});
export type SeverityCountsView = z.infer<typeof SeverityCountsSchema>;
export const SessionFindingsSchema = z.object({
  session: z.number().int(),
  findings: z.array(FindingSchema),
  counts: SeverityCountsSchema,
  /** How many logged messages were judged (a live session's list grows). */
  messages: z.number().int(),
  /** Why the session was not judged (too long for the app; `dmw session check` judges it), or null. */
  skipped: z.string().nullable(),
});
export type SessionFindingsView = z.infer<typeof SessionFindingsSchema>;
const ExampleMessageView = z.object({ from: z.enum(['client', 'server']), xml: z.string() });
export const RuleExplanationSchema = z.object({
  id: z.string(),
  severity: Severity,
  clause: z.string(),
  text: z.string(),
  good: z.array(ExampleMessageView),
  bad: z.array(ExampleMessageView),
});
export type RuleExplanationView = z.infer<typeof RuleExplanationSchema>;
/** Most sessions one sessions.findingCounts call judges (main/api/findings-view.ts MAX_COUNT_BATCH). */
export const MAX_FINDING_COUNT_IDS = 200;

// --- tree and ACL -------------------------------------------------------------------------------

export const TreeEntrySchema = z.object({
  uri: z.string(),
  format: z.string().nullable(),
  type: z.string().nullable(),
  data: z.string().nullable(),
  encoding: z.literal('b64').optional(),
  fetchedAt: isoTime,
});
export type TreeEntryView = z.infer<typeof TreeEntrySchema>;

export const TreeSnapshotSchema = z.object({
  device: z.string(),
  entries: z.array(TreeEntrySchema),
  /** When the backend took the snapshot the diff compares against (null: none yet). */
  previousAt: isoTime.nullable(),
});

const DiffChange = z.object({ uri: z.string(), before: z.string().nullable(), after: z.string().nullable() });
export const TreeDiffSchema = z.object({
  device: z.string(),
  previousAt: isoTime.nullable(),
  currentAt: isoTime.nullable(),
  added: z.array(DiffChange),
  removed: z.array(DiffChange),
  changed: z.array(DiffChange),
});
export type TreeDiff = z.infer<typeof TreeDiffSchema>;

export const ACL_COMMAND_NAMES = ['Add', 'Delete', 'Exec', 'Get', 'Replace'] as const;
const AclCell = z.object({
  /** true/false, or null when an ACL on the way was never read from the device. */
  allowed: z.boolean().nullable(),
  /** The node whose ACL decides. */
  fromPath: z.string().nullable(),
  inherited: z.boolean(),
  rights: z.string().nullable(),
  reason: z.string(),
});
export const AclMatrixSchema = z.object({
  device: z.string(),
  uri: z.string(),
  /** The node's own ACL as last read (null: not read; '' = empty, inherits). */
  ownAcl: z.string().nullable(),
  servers: z.array(z.string()),
  commands: z.array(z.enum(ACL_COMMAND_NAMES)),
  /** cells[server][command] */
  cells: z.record(z.string(), z.record(z.string(), AclCell)),
  /** Nodes below `uri` (and it) whose ACL is known, for the subtree overview. */
  nodes: z.array(z.object({ uri: z.string(), acl: z.string().nullable() })),
  unread: z.array(z.string()),
});
export type AclMatrix = z.infer<typeof AclMatrixSchema>;


// --- bootstrap (profiles, PC/SC readers, card flashing) -----------------------------------------

/** A bootstrap profile as the editor holds it; main/bootstrap's validateProfile does the real check. */
const ProfileInput = z.record(z.string(), z.unknown());
const FieldErrorSchema = z.object({ field: z.string(), message: z.string() });

export const BootstrapCheckSchema = z.object({
  ok: z.boolean(),
  /** Every field at fault, by JSON path (`port`, `clientCredential.secret`, `extraNodes[1].uri`). */
  errors: z.array(FieldErrorSchema),
  /** Pretty XML of the bootstrap message (null while the profile has errors). */
  xml: z.string().nullable(),
  wbxmlBytes: z.number().int().nullable(),
  /** The bootstrap message as WBXML, base64 (for the view's download; null while the profile has errors). */
  wbxml: z.string().nullable().optional(),
  /** The DMAcc nodes the message provisions. */
  nodes: z.array(z.object({ uri: z.string(), format: z.string(), value: z.string().nullable() })),
});
export type BootstrapCheck = z.infer<typeof BootstrapCheckSchema>;

export const CardReaderSchema = z.object({
  name: z.string(),
  present: z.boolean(),
  atr: z.string().nullable(),
  /** The ATR in words (protocols, historical bytes). */
  atrText: z.string().nullable(),
  exclusive: z.boolean(),
  inUse: z.boolean(),
  mute: z.boolean(),
});
export type CardReaderView = z.infer<typeof CardReaderSchema>;

export const ReadersStatusSchema = z.object({
  /** False when PC/SC cannot be used (pcscd not running, addon missing): `reason` says why. */
  available: z.boolean(),
  reason: z.string().nullable(),
  readers: z.array(CardReaderSchema),
});
export type ReadersStatus = z.infer<typeof ReadersStatusSchema>;

export const FlashProgressSchema = z.object({
  flashId: z.number().int(),
  phase: z.enum(['locate', 'pin', 'read', 'create', 'resize', 'write', 'verify', 'register', 'done']),
  message: z.string(),
  done: z.number().int().optional(),
  total: z.number().int().optional(),
});
export type FlashProgressView = z.infer<typeof FlashProgressSchema>;

export const ApduTraceSchema = z.object({
  flashId: z.number().int(),
  seq: z.number().int(),
  name: z.string(),
  command: z.string(),
  response: z.string().optional(),
  sw: z.string().optional(),
  meaning: z.string().optional(),
  error: z.string().optional(),
  ms: z.number(),
  auto: z.enum(['get-response', 'le-retry']).optional(),
});
export type ApduTraceView = z.infer<typeof ApduTraceSchema>;

export const FlashResultSchema = z.object({
  flashId: z.number().int(),
  ok: z.boolean(),
  reader: z.string().nullable(),
  /** What went wrong, in one line (PIN, card pulled, no card...). */
  error: z.string().nullable(),
  report: z.object({
    fid: z.string(), bytes: z.number().int(), efSize: z.number().int(), unchanged: z.boolean(), updateCommands: z.number().int(),
    chunksSkipped: z.number().int(), created: z.array(z.string()), exchanges: z.number().int(), ms: z.number(),
  }).nullable(),
  /** The card read back after the write and compared with the profile. */
  verification: z.object({ matches: z.boolean(), differences: z.string() }).nullable(),
  trace: z.array(ApduTraceSchema),
});
export type FlashResult = z.infer<typeof FlashResultSchema>;

// --- serial (ports, AT identity, console, WAP push notification) --------------------------------

/** A serial device path (`/dev/tty...`, `/dev/serial/by-id/...`, `COM3`), nothing else the backend could open. */
const portPath = z.string().min(1).max(1024).regex(/^(\/dev\/[^\0]+|COM\d{1,3}|\\\\\.\\COM\d{1,3})$/, 'not a serial port path (/dev/... or COMn)').refine((p) => !p.includes('/../'), 'not a serial port path');
const baudRate = z.number().int().min(300).max(4_000_000).optional();
const msisdn = z.string().min(1).max(32).regex(/^\+?[0-9*#\s\-()]{1,30}$/, 'not a phone number (digits, optionally with a leading +)');

export const PortsListingSchema = z.object({
  ports: z.array(z.object({ path: z.string(), vendorId: z.string().optional(), productId: z.string().optional(), manufacturer: z.string().optional(), product: z.string().optional(), serialNumber: z.string().optional(), pnpId: z.string().optional() })),
  source: z.string().nullable(),
  note: z.string().nullable(),
  error: z.string().nullable(),
});
export type PortsListing = z.infer<typeof PortsListingSchema>;

export const HandsetIdentitySchema = z.object({
  port: z.string(),
  info: z.string().optional(), manufacturer: z.string().optional(), model: z.string().optional(), revision: z.string().optional(),
  imei: z.string().optional(), imeiLuhnOk: z.boolean().optional(), imsi: z.string().optional(), iccid: z.string().optional(), iccidSource: z.string().optional(),
  errors: z.record(z.string(), z.string()),
});
export type HandsetIdentityView = z.infer<typeof HandsetIdentitySchema>;

export const ConsoleStateSchema = z.object({ port: z.string().nullable(), open: z.boolean(), error: z.string().nullable() });
export type ConsoleState = z.infer<typeof ConsoleStateSchema>;
export const ConsoleLinesSchema = z.object({ port: z.string(), lines: z.array(z.string()), closed: z.string().nullable() });

const PushParams = {
  to: msisdn,
  /** Device whose stored server nonce goes into the digest (as the server's own notify does). */
  devId: devId.optional(),
  sessionId: z.number().int().min(1).max(0xffff),
  uiMode: z.enum(['unspecified', 'background', 'informative', 'interactive']),
  /** Concatenation reference: the preview's, so what is sent is what was shown. */
  ref: z.number().int().min(0).max(255),
};
export const PushPreviewSchema = z.object({
  to: z.string(),
  serverId: z.string(),
  sessionId: z.number().int(),
  sessionIdHex: z.string(),
  uiMode: z.string(),
  ref: z.number().int(),
  package0Hex: z.string(),
  wspHex: z.string(),
  parts: z.array(z.object({ seq: z.number().int(), total: z.number().int(), ref: z.number().int().optional(), pduHex: z.string(), tpduLength: z.number().int(), payloadLength: z.number().int() })),
  warnings: z.array(z.string()),
});
export type PushPreview = z.infer<typeof PushPreviewSchema>;
export const PushResultSchema = z.object({
  ok: z.boolean(),
  detail: z.string(),
  parts: z.array(z.object({ seq: z.number().int(), total: z.number().int(), status: z.string(), messageRef: z.number().int().optional(), error: z.string().optional() })),
  transcript: z.array(z.string()),
});
export type PushResult = z.infer<typeof PushResultSchema>;

/** OTA bootstrap (DM-4): the profile's bootstrap WBXML in a WSP push with SEC and MAC. */
export const BootstrapPushParamsSchema = z.object({
  to: msisdn,
  /** A bootstrap profile (the Bootstrap view's, or pasted JSON); main/bootstrap checks it. */
  profile: ProfileInput,
  sec: z.enum(['NETWPIN', 'USERPIN', 'USERNETWPIN', 'USERPINMAC']),
  /** NETWPIN / USERNETWPIN key: typed, or read with AT+CIMI from imsiPort. */
  imsi: z.string().max(32).optional(),
  imsiPort: portPath.optional(),
  baudRate,
  /** USERPIN / USERNETWPIN: the PIN; USERPINMAC: the key half (5 to 8 digits). */
  pin: z.string().max(32).optional(),
  userNetwPinKey: z.enum(['imsi+pin', 'imsi:pin']).optional(),
  ref: z.number().int().min(0).max(255).optional(),
}).strict();
export const BootstrapPushPreviewSchema = z.object({
  /** Handle for serial.bootstrapSend: the backend keeps the previewed bytes, so what goes out is what was shown. */
  previewId: z.number().int(),
  to: z.string(),
  sec: z.string(),
  ref: z.number().int(),
  wbxmlBytes: z.number().int(),
  /** The WSP content type as decoded back from the push, with its SEC and MAC parameters. */
  contentType: z.string(),
  params: z.array(z.object({ name: z.string(), value: z.string() })),
  appId: z.string().nullable(),
  mac: z.string(),
  keyDescription: z.string(),
  /** USERNETWPIN only: which key variant made the MAC. */
  userNetwPinKey: z.string().nullable(),
  /** USERPINMAC only: the full PIN the user must type on the handset. */
  userPin: z.string().nullable(),
  imsi: z.string().nullable(),
  /** Where the IMSI came from: "typed", or "AT+CIMI on <port>". */
  imsiSource: z.string().nullable(),
  wspHex: z.string(),
  parts: z.array(z.object({ seq: z.number().int(), total: z.number().int(), ref: z.number().int().optional(), pduHex: z.string(), tpduLength: z.number().int(), payloadLength: z.number().int() })),
  notes: z.array(z.string()),
});
export type BootstrapPushPreview = z.infer<typeof BootstrapPushPreviewSchema>;

// --- events -------------------------------------------------------------------------------------

/** The DM server's events (main/server/events.ts), as they cross the boundary. */
export const ServerEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('session-started'), at: isoTime, sessionId: z.number(), device: z.string(), dmSessionId: z.string(), encoding: z.string() }),
  z.object({ type: z.literal('message'), at: isoTime, sessionId: z.number(), direction: z.enum(['in', 'out']), bytes: z.number(), msgId: z.string().nullable(), httpStatus: z.number().nullable(), note: z.string().optional() }),
  z.object({ type: z.literal('session-ended'), at: isoTime, sessionId: z.number(), device: z.string().nullable(), state: z.string(), reason: z.string() }),
  z.object({ type: z.literal('job-sent'), at: isoTime, jobId: z.number(), device: z.string(), sessionId: z.number() }),
  z.object({ type: z.literal('job-done'), at: isoTime, job: JobRecordSchema }),
  /** Its command went out and no Status came back: the engineer decides (jobs.decide). */
  z.object({ type: z.literal('job-unconfirmed'), at: isoTime, job: JobRecordSchema }),
  z.object({ type: z.literal('device-seen'), at: isoTime, device: z.string(), firstTime: z.boolean() }),
  z.object({ type: z.literal('alert'), at: isoTime, device: z.string(), sessionId: z.number(), alert: z.object({ code: z.string(), correlator: z.string().optional(), items: z.array(z.record(z.string(), z.string())) }) }),
  z.object({ type: z.literal('notified'), at: isoTime, device: z.string(), ok: z.boolean(), detail: z.string() }),
  z.object({ type: z.literal('rejected'), at: isoTime, sessionId: z.number().nullable(), httpStatus: z.number(), reason: z.string() }),
  z.object({ type: z.literal('session-held'), at: isoTime, sessionId: z.number(), device: z.string(), next: z.object({ jobId: z.number(), cmd: z.string(), target: z.string() }).nullable(), pending: z.number(), releaseAt: isoTime }),
  z.object({ type: z.literal('session-released'), at: isoTime, sessionId: z.number(), device: z.string(), by: z.enum(['step', 'resume', 'limit', 'abort', 'close', 'superseded']), heldMs: z.number(), commands: z.number() }),
]);
export type ServerEventView = z.infer<typeof ServerEventSchema>;

// --- the contract -------------------------------------------------------------------------------

export const contract = {
  'server.status': { input: empty, output: ServerStatusSchema },
  'server.start': { input: empty, output: ServerStatusSchema },
  'server.stop': { input: empty, output: ServerStatusSchema },
  /** New settings (and data folder); a running server restarts with them. */
  'server.configure': { input: z.object({ settings: ServerSettingsSchema.partial().optional(), dataDir: z.string().min(1).max(4096).optional() }).strict(), output: ServerStatusSchema },
  'server.caCertificate': { input: empty, output: PemBundle },
  /** The certificate (PEM, fileName) and its private key (PEM, keyFileName) as two separate downloads. */
  'server.issueDeviceCertificate': { input: z.object({ devId: devId.refine((d) => certificateDevIdProblem(d) === null, { error: (i) => certificateDevIdProblem(String(i.input)) ?? 'not a DevId' }) }).strict(), output: z.object({ fileName: z.string(), keyFileName: z.string(), certPem: z.string(), keyPem: z.string(), caPem: z.string() }) },
  /** Refusals before authentication, what is throttled, the session pools; null while the server is stopped. */
  'server.authFailures': { input: empty, output: AuthFailuresSchema.nullable() },

  'devices.list': { input: empty, output: z.array(DeviceSummarySchema) },
  /** Per-device credentials (null: back to the lab default) and notification URL. */
  'devices.configure': { input: z.object({ devId, clientCred: credential.nullable().optional(), notifyUrl: z.string().url().nullable().optional() }).strict(), output: DeviceSummarySchema },

  'handsets.status': { input: empty, output: HandsetsStatusSchema },
  'handsets.add': { input: z.object({ count: z.number().superRefine((n, ctx) => { const why = integerValueProblem(n, 1, MAX_HANDSETS_PER_ADD); if (why) ctx.addIssue({ code: 'custom', message: why }); }), model: z.string().max(64).optional() }).strict(), output: HandsetsStatusSchema },
  'handsets.start': { input: z.object({ devId }).strict(), output: HandsetsStatusSchema },
  'handsets.stop': { input: z.object({ devId }).strict(), output: HandsetsStatusSchema },

  'sessions.list': { input: z.object({ device: devId.optional(), limit: z.number().int().min(1).max(10_000).optional() }).strict(), output: z.array(SessionSummarySchema) },
  'sessions.get': { input: z.object({ id: z.number().int() }).strict(), output: SessionDetailSchema },
  'sessions.message': { input: z.object({ id: z.number().int() }).strict(), output: MessageDetailSchema },
  /** Full summaries (commands, answers, auth) of messages [offset, offset + limit) of a long session, in seq order. */
  'sessions.summaries': { input: z.object({ id: z.number().int(), offset: z.number().int().min(0), limit: z.number().int().min(1).max(500) }).strict(), output: z.object({ total: z.number().int(), messages: z.array(MessageSummarySchema) }) },
  /** A self-contained JSON file for a bug report: the session, every message (bytes and decoded), its jobs. */
  'sessions.export': { input: z.object({ id: z.number().int() }).strict(), output: z.object({ fileName: z.string(), json: z.string() }) },
  'sessions.abort': { input: z.object({ id: z.number().int() }).strict(), output: z.object({ ok: z.boolean() }) },
  /** The session's expert findings, judged on first call and cached until it logs another message. */
  'sessions.findings': { input: z.object({ id: z.number().int() }).strict(), output: SessionFindingsSchema },
  /**
   * Findings counted by severity for these sessions (the rows the list shows), by session id; ids
   * with no session are left out. Judged on demand, cached per session.
   */
  'sessions.findingCounts': { input: z.object({ ids: z.array(z.number().int()).max(MAX_FINDING_COUNT_IDS) }).strict(), output: z.record(z.string(), SeverityCountsSchema) },
  /** A rule of the catalogue: clause, one line, and a good and a bad example session. */
  'judge.rule': { input: z.object({ id: z.string().min(1).max(128) }).strict(), output: RuleExplanationSchema },

  'jobs.list': { input: z.object({ device: devId.optional() }).strict(), output: z.array(JobRecordSchema) },
  /** Queue a job (held instead when the device's queue is paused). */
  'jobs.add': { input: z.object({ device: devId, spec: JobSpecSchema, notify: z.boolean().optional() }).strict(), output: z.object({ job: JobRecordSchema.nullable(), held: HeldJob.nullable(), notified: z.object({ ok: z.boolean(), detail: z.string() }).nullable() }) },
  'jobs.queue': { input: z.object({ device: devId }).strict(), output: QueueStateSchema },
  /**
   * Pause: new jobs wait in the backend while the device is out of session, and inside a session the
   * server holds each answer that would carry a command until Step. Resume lets a held answer go with all it can carry.
   */
  'jobs.pause': { input: z.object({ device: devId, paused: z.boolean() }).strict(), output: QueueStateSchema },
  /**
   * One step: when the device's session is held, its answer goes out with the next command (same
   * session); otherwise the next held job goes to the server (and the device is notified when it can
   * be reached), and its command will not be held again.
   */
  'jobs.step': { input: z.object({ device: devId, /** Hand every held job to the server at once; in the session each command then waits for its own Step. */ all: z.boolean().optional() }).strict(), output: z.object({ queue: QueueStateSchema, job: JobRecordSchema.nullable() }) },
  'jobs.discard': { input: z.object({ device: devId, heldId: z.number().int() }).strict(), output: QueueStateSchema },
  /** The engineer's decision on an unconfirmed job: verify (read the node back first), resend, or drop. */
  'jobs.decide': { input: z.object({ id: z.number().int().positive(), action: z.enum(['verify', 'resend', 'drop']) }).strict(), output: JobRecordSchema },

  'tree.get': { input: z.object({ device: devId }).strict(), output: TreeSnapshotSchema },
  'tree.diff': { input: z.object({ device: devId }).strict(), output: TreeDiffSchema },
  'acl.matrix': { input: z.object({ device: devId, uri: dmUri }).strict(), output: AclMatrixSchema },

  /** Check a profile (every bad field named) and build its bootstrap message for the XML preview. */
  'bootstrap.check': { input: z.object({ profile: ProfileInput }).strict(), output: BootstrapCheckSchema },
  /** PC/SC readers (watching starts with the first call; changes come as `bootstrap.readers` events). */
  'bootstrap.readers': { input: empty, output: ReadersStatusSchema },
  /** Build the profile's bootstrap and flash it: progress and APDU trace come as events while it runs. */
  'bootstrap.flash': {
    input: z.object({ profile: ProfileInput, reader: z.string().min(1).max(256).optional(), pin: z.string().min(1).max(64).optional(), pinRef: z.number().int().min(0).max(255).optional(), force: z.boolean().optional() }).strict(),
    output: FlashResultSchema,
  },

  'serial.ports': { input: empty, output: PortsListingSchema },
  'serial.identify': { input: z.object({ port: portPath, baudRate }).strict(), output: HandsetIdentitySchema },
  /** Raw console on a port: lines come as `serial.console` events. One console at a time. */
  'serial.consoleOpen': { input: z.object({ port: portPath, baudRate }).strict(), output: ConsoleStateSchema },
  'serial.consoleClose': { input: empty, output: ConsoleStateSchema },
  'serial.consoleSend': { input: z.object({ line: z.string().max(4096) }).strict(), output: ConsoleStateSchema },
  /** Package #0 from the server settings, its WSP push and the SMS PDUs, without sending anything. */
  'serial.pushPreview': { input: z.object({ ...PushParams, ref: PushParams.ref.optional(), sessionId: PushParams.sessionId.optional() }).strict(), output: PushPreviewSchema },
  'serial.pushSend': { input: z.object({ ...PushParams, port: portPath, baudRate }).strict(), output: PushResultSchema },
  /** A profile's bootstrap in a WSP push with SEC/MAC (IMSI typed or read over AT), and its SMS PDUs; nothing is sent. */
  'serial.bootstrapPreview': { input: BootstrapPushParamsSchema, output: BootstrapPushPreviewSchema },
  /** Sends a previewed bootstrap push, byte for byte as previewed. */
  'serial.bootstrapSend': { input: z.object({ previewId: z.number().int().min(1), port: portPath, baudRate }).strict(), output: PushResultSchema },
  /** The packet list (contract-packets.ts). */
  ...packetChannels,
  /** Stored bootstrap profiles (contract-profiles.ts). */
  ...profileChannels,
  /** Conformance plan runs (contract-conformance.ts). */
  ...conformanceContract,
  /** Trace export and import (contract-traces.ts). */
  ...traceChannels,
} as const satisfies Record<ChannelName, { input: z.ZodType; output: z.ZodType }>;

export const eventSchemas = {
  'server.event': ServerEventSchema,
  'server.status': ServerStatusSchema,
  'handsets.changed': HandsetsStatusSchema,
  'jobs.changed': QueueStateSchema,
  'bootstrap.readers': ReadersStatusSchema,
  'bootstrap.progress': FlashProgressSchema,
  'bootstrap.trace': ApduTraceSchema,
  'serial.console': ConsoleLinesSchema,
} as const satisfies Record<EventName, z.ZodType>;

export type Contract = typeof contract;
export type Input<C extends ChannelName> = z.input<Contract[C]['input']>;
/** What a handler receives: the input after parsing (defaults applied). */
export type ParsedInput<C extends ChannelName> = z.output<Contract[C]['input']>;
export type Output<C extends ChannelName> = z.output<Contract[C]['output']>;
export type EventPayload<E extends EventName> = z.output<(typeof eventSchemas)[E]>;

export type Handlers = { [C in ChannelName]: (input: ParsedInput<C>) => Promise<Output<C>> | Output<C> };

/** The API as the UI sees it: one async function per channel. */
export type DmwApi = { [C in ChannelName]: (input: Input<C>) => Promise<Output<C>> };

/** unavailable: the store's database cannot be reached (PostgreSQL down or restarting); nothing was written, try again after retryAfterSec. */
export type ApiErrorCode = 'bad-channel' | 'bad-input' | 'failed' | 'bad-output' | 'transport' | 'unavailable';

/** A call's failure as it crosses the boundary (never a stack trace). */
export interface ApiError {
  code: ApiErrorCode;
  message: string;
  /** With `unavailable`: seconds to wait before calling again. */
  retryAfterSec?: number;
}

export type CallReply = { ok: true; value: unknown } | { ok: false; error: ApiError };

export { CHANNELS, EVENTS, type ChannelName, type EventName } from './channels.js';
