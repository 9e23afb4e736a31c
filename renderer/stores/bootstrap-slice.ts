/**
 * The Bootstrap view's slice: the profile being edited (as form fields), its check (field errors and
 * the XML preview, from main/bootstrap on the backend), the PC/SC readers kept live by events, and
 * the running flash (progress, APDU trace, result).
 */
import type {
  ApduTraceView, BootstrapCheck, DmwApi, EventName, EventPayload, FlashProgressView, FlashResult, ReadersStatus, ServerStatus,
} from '../../main/api/contract.js';
import type { ProfileSaveResult, StoredProfiles } from '../../main/api/contract-profiles.js';

/** The editor's fields: what a profile JSON holds, flattened to text for the inputs. */
export interface ProfileDraft {
  serverId: string;
  name: string;
  account: string;
  address: string;
  addrType: string;
  port: string;
  authPref: string;
  clientType: string;
  clientName: string;
  clientSecret: string;
  clientData: string;
  serverType: string;
  serverName: string;
  serverSecret: string;
  serverData: string;
  prefConRef: string;
  form: 'dmacc' | 'tnds';
}

export const DEFAULT_PROFILE: ProfileDraft = {
  serverId: 'com.example.dm',
  name: 'Example DM (lab)',
  account: 'ExampleDM',
  address: 'https://dm.example.com:8443/dm',
  addrType: 'URI',
  port: '8443',
  authPref: 'DIGEST',
  clientType: 'DIGEST',
  clientName: 'lab-device-01',
  clientSecret: 'client-secret-01',
  clientData: 'bm9uY2UtY2xpZW50',
  serverType: 'DIGEST',
  serverName: 'com.example.dm',
  serverSecret: 'server-secret-01',
  serverData: 'bm9uY2Utc2VydmVy',
  prefConRef: '',
  form: 'dmacc',
};

/** Draft -> the profile JSON main/bootstrap checks. Empty optional fields are left out; a non-numeric port is kept as text so the checker names it. */
export function draftToProfile(d: ProfileDraft): Record<string, unknown> {
  const p: Record<string, unknown> = { serverId: d.serverId, address: d.address };
  if (d.name) p.name = d.name;
  if (d.account) p.account = d.account;
  if (d.addrType) p.addrType = d.addrType;
  if (d.port.trim() !== '') p.port = /^-?\d+$/.test(d.port.trim()) ? Number(d.port.trim()) : d.port;
  if (d.authPref) p.authPref = d.authPref;
  const cred = (type: string, name: string, secret: string, data: string) => ({ ...(type ? { type } : {}), name, secret, ...(data ? { data } : {}) });
  p.clientCredential = cred(d.clientType, d.clientName, d.clientSecret, d.clientData);
  p.serverCredential = cred(d.serverType, d.serverName, d.serverSecret, d.serverData);
  if (d.prefConRef) p.connectivity = { prefConRef: d.prefConRef, toConRefs: [d.prefConRef] };
  if (d.form !== 'dmacc') p.form = d.form;
  return p;
}

/** DM auth of the server settings -> the profile's credential type (AAuthPref). */
const AUTH_TYPE: Record<string, string> = { basic: 'BASIC', md5: 'DIGEST', hmac: 'HMAC' };

/**
 * The running lab server as the profile's target: its public URL (or where it listens), port,
 * ServerID and credentials, so a bootstrapped device calls this server and not example.com.
 * Null while the server is not running (the example defaults stay, and the view says why).
 */
export function labProfileDraft(server: ServerStatus | null): Partial<ProfileDraft> | null {
  const url = server?.settings.publicUrl ?? server?.url ?? null;
  if (!server || !url) return null;
  const st = server.settings;
  let port = server.port !== null ? String(server.port) : '';
  try {
    const u = new URL(url);
    port = u.port || (u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : port);
  } catch {
    // not a URL: the check names the address field
  }
  const d: Partial<ProfileDraft> = { serverId: st.serverId, name: `DM Workbench lab (${st.serverId})`, account: st.serverId, address: url, addrType: 'URI', port, serverName: st.serverCred?.name ?? st.serverId };
  if (st.serverCred?.secret) d.serverSecret = st.serverCred.secret;
  const serverType = AUTH_TYPE[st.serverAuth];
  if (serverType) d.serverType = serverType;
  const clientType = AUTH_TYPE[st.clientAuth];
  if (clientType) {
    d.clientType = clientType;
    d.authPref = clientType;
  }
  if (st.defaultClientCred) {
    d.clientName = st.defaultClientCred.name;
    if (st.defaultClientCred.secret) d.clientSecret = st.defaultClientCred.secret;
  }
  return d;
}

/** A profile JSON (a stored or loaded file) -> the editor's fields; what the editor has no field for is named. */
export function profileToDraft(p: Record<string, unknown>): { draft: ProfileDraft; ignored: string[] } {
  const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
  const cred = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});
  const c = cred(p.clientCredential);
  const sc = cred(p.serverCredential);
  const conn = cred(p.connectivity);
  const draft: ProfileDraft = {
    serverId: str(p.serverId), name: str(p.name), account: str(p.account), address: str(p.address), addrType: str(p.addrType) || 'URI', port: str(p.port),
    authPref: str(p.authPref), clientType: str(c.type), clientName: str(c.name), clientSecret: str(c.secret), clientData: str(c.data),
    serverType: str(sc.type), serverName: str(sc.name), serverSecret: str(sc.secret), serverData: str(sc.data),
    prefConRef: str(conn.prefConRef), form: p.form === 'tnds' ? 'tnds' : 'dmacc',
  };
  const known = new Set(['serverId', 'name', 'account', 'address', 'addrType', 'port', 'authPref', 'clientCredential', 'serverCredential', 'connectivity', 'form', 'id']);
  return { draft, ignored: Object.keys(p).filter((k) => !known.has(k)) };
}

/** Field errors by the draft input they belong to (JSON path -> input). */
export function errorsByInput(check: BootstrapCheck | null): Record<string, string> {
  const map: Record<string, keyof ProfileDraft> = {
    serverId: 'serverId', name: 'name', account: 'account', address: 'address', addrType: 'addrType', port: 'port', authPref: 'authPref',
    'clientCredential.type': 'clientType', 'clientCredential.name': 'clientName', 'clientCredential.secret': 'clientSecret', 'clientCredential.data': 'clientData',
    'serverCredential.type': 'serverType', 'serverCredential.name': 'serverName', 'serverCredential.secret': 'serverSecret', 'serverCredential.data': 'serverData',
    'connectivity.prefConRef': 'prefConRef', form: 'form',
  };
  const out: Record<string, string> = {};
  for (const e of check?.errors ?? []) {
    const key = map[e.field] ?? (e.field.startsWith('connectivity') ? 'prefConRef' : undefined);
    const k = key ?? '$';
    out[k] = out[k] ? `${out[k]}; ${e.field}: ${e.message}` : `${e.field}: ${e.message}`;
  }
  return out;
}

export interface FlashState {
  flashId: number | null;
  running: boolean;
  progress: FlashProgressView | null;
  trace: ApduTraceView[];
  result: FlashResult | null;
}

export interface BootstrapSlice {
  profileDraft: ProfileDraft;
  profileCheck: BootstrapCheck | null;
  cardReaders: ReadersStatus | null;
  selectedReader: string | null;
  flash: FlashState;
  storedProfiles: StoredProfiles | null;
  /** The last Save's outcome (saved where, or every field at fault), shown next to the Save button. */
  profileSave: ProfileSaveResult | null;
  setProfileField<K extends keyof ProfileDraft>(k: K, v: ProfileDraft[K]): void;
  checkProfile(): Promise<void>;
  /** Replaces the whole draft (lab defaults, a loaded profile) and checks it. */
  replaceProfileDraft(draft: ProfileDraft): void;
  loadStoredProfiles(): Promise<void>;
  saveProfile(id: string): Promise<ProfileSaveResult | null>;
  loadProfile(id: string): Promise<void>;
  loadReaders(): Promise<void>;
  selectReader(name: string | null): void;
  flashCard(opts: { pin?: string; pinRef?: number; force?: boolean }): Promise<FlashResult | null>;
}

const MAX_TRACE = 2000;
const idleFlash: FlashState = { flashId: null, running: false, progress: null, trace: [], result: null };

type Get = () => BootstrapSlice & { notify(kind: 'error' | 'info', text: string): void };
type Set = (p: Partial<BootstrapSlice>) => void;

export function createBootstrapSlice(api: DmwApi, set: Set, get: Get, guard: <T>(what: string, fn: () => Promise<T>) => Promise<T | undefined>): BootstrapSlice {
  let checkSeq = 0;
  return {
    profileDraft: DEFAULT_PROFILE,
    profileCheck: null,
    cardReaders: null,
    selectedReader: null,
    flash: idleFlash,
    storedProfiles: null,
    profileSave: null,
    replaceProfileDraft: (profileDraft) => {
      set({ profileDraft });
      void get().checkProfile();
    },
    loadStoredProfiles: async () => {
      const storedProfiles = await guard('stored profiles', () => api['bootstrap.profiles']({}));
      if (storedProfiles) set({ storedProfiles });
    },
    saveProfile: async (id) => {
      const profileSave = await guard('save the profile', () => api['bootstrap.save']({ id, profile: draftToProfile(get().profileDraft) }));
      if (!profileSave) return null;
      set({ profileSave });
      if (profileSave.ok) void get().loadStoredProfiles();
      return profileSave;
    },
    loadProfile: async (id) => {
      const r = await guard(`load profile ${id}`, () => api['bootstrap.load']({ id }));
      if (r) get().replaceProfileDraft(profileToDraft(r.profile).draft);
    },
    setProfileField: (k, v) => {
      set({ profileDraft: { ...get().profileDraft, [k]: v } });
      void get().checkProfile();
    },
    checkProfile: async () => {
      const seq = ++checkSeq;
      const profileCheck = await guard('check the profile', () => api['bootstrap.check']({ profile: draftToProfile(get().profileDraft) }));
      if (profileCheck && seq === checkSeq) set({ profileCheck });
    },
    loadReaders: async () => {
      const cardReaders = await guard('card readers', () => api['bootstrap.readers']({}));
      if (cardReaders) set({ cardReaders });
    },
    selectReader: (selectedReader) => set({ selectedReader }),
    flashCard: async (o) => {
      const reader = get().selectedReader;
      set({ flash: { ...idleFlash, running: true } });
      const result = await guard('flash', () =>
        api['bootstrap.flash']({
          profile: draftToProfile(get().profileDraft),
          ...(reader ? { reader } : {}),
          ...(o.pin ? { pin: o.pin } : {}),
          ...(o.pinRef !== undefined ? { pinRef: o.pinRef } : {}),
          ...(o.force ? { force: true } : {}),
        }),
      );
      const cur = get().flash;
      // The reply's trace is complete; events may have been dropped or not arrived yet.
      set({ flash: { ...cur, running: false, flashId: result?.flashId ?? cur.flashId, result: result ?? null, trace: result && result.trace.length >= cur.trace.length ? result.trace : cur.trace } });
      if (result && !result.ok) get().notify('error', `flash: ${result.error ?? 'failed'}`);
      return result ?? null;
    },
  };
}

/** Applies the slice's events (called from the store's per-frame flush). */
export function applyBootstrapEvent(s: BootstrapSlice, name: EventName, payload: unknown): Partial<BootstrapSlice> | null {
  if (name === 'bootstrap.readers') return { cardReaders: payload as ReadersStatus };
  if (name === 'bootstrap.progress') {
    const p = payload as EventPayload<'bootstrap.progress'>;
    if (!s.flash.running) return null;
    return { flash: { ...s.flash, flashId: p.flashId, progress: p } };
  }
  if (name === 'bootstrap.trace') {
    const t = payload as EventPayload<'bootstrap.trace'>;
    if (!s.flash.running || s.flash.trace.length >= MAX_TRACE) return null;
    return { flash: { ...s.flash, flashId: t.flashId, trace: [...s.flash.trace, t] } };
  }
  return null;
}

/** Progress of a flash as a fraction 0..1 over its phases (write and verify by bytes). */
export function flashFraction(p: FlashProgressView | null, done: boolean): number {
  if (done) return 1;
  if (!p) return 0;
  const weights: Record<string, [number, number]> = { locate: [0, 0.05], pin: [0.05, 0.1], read: [0.1, 0.2], create: [0.2, 0.25], resize: [0.25, 0.3], write: [0.3, 0.75], verify: [0.75, 0.95], register: [0.95, 0.99], done: [1, 1] };
  const [a, b] = weights[p.phase] ?? [0, 0];
  const within = p.total && p.done !== undefined ? Math.min(1, p.done / p.total) : 0;
  return a + (b - a) * within;
}
