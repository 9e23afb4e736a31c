/**
 * The Bootstrap view's backend: profile check and XML preview (main/bootstrap), PC/SC readers with
 * live insert/remove, and flashing a card with progress, APDU trace and a read-back compared with the
 * profile. The pcsclite addon (native/pcsc/pcsc.ts) is imported on the first reader call only, so a
 * machine without it (or without pcscd) still runs every other view; that case is reported as a
 * reason, never as a made-up reader.
 */
import { BootstrapBuildError, buildBootstrap } from '../bootstrap/message.js';
import { ProfileError, validateProfile, type BootstrapProfile } from '../bootstrap/profile.js';
import { ProfileStore } from '../bootstrap/store.js';
import type { ProfileSaveResult, StoredProfiles } from './contract-profiles.js';
import type { ApduTraceView, BootstrapCheck, CardReaderView, EventPayload, FlashResult, ReadersStatus } from './contract.js';
import type { EventName } from './channels.js';
import type { FlashProgress } from '../bootstrap/card.js';
import type { PcscMonitor, ReaderInfo } from '../../native/pcsc/pcsc.js';

type Emit = <E extends EventName>(name: E, payload: EventPayload<E>) => void;

/** How the view reaches PC/SC: the real monitor by default, a fake in tests. */
export type OpenMonitor = () => Promise<PcscMonitor>;

const defaultOpenMonitor: OpenMonitor = async () => {
  const { PcscMonitor } = await import('../../native/pcsc/pcsc.js');
  const m = PcscMonitor.open();
  try {
    await m.ready();
  } catch (e) {
    await m.close().catch(() => undefined);
    throw e;
  }
  return m;
};

const MAX_TRACE = 2000;

/** Profile -> field errors, XML preview and nodes. Never throws for a bad profile. */
export function checkProfile(input: unknown): { check: BootstrapCheck; profile?: BootstrapProfile; wbxml?: Uint8Array } {
  let profile: BootstrapProfile;
  try {
    profile = validateProfile(input);
  } catch (e) {
    if (e instanceof ProfileError) return { check: { ok: false, errors: e.errors, xml: null, wbxmlBytes: null, nodes: [] } };
    throw e;
  }
  try {
    const built = buildBootstrap(profile);
    return {
      check: { ok: true, errors: [], xml: built.xml, wbxmlBytes: built.wbxml.length, wbxml: Buffer.from(built.wbxml).toString('base64'), nodes: built.nodes.map((n) => ({ uri: n.uri, format: n.format, value: n.value ?? null })) },
      profile,
      wbxml: built.wbxml,
    };
  } catch (e) {
    if (e instanceof BootstrapBuildError) return { check: { ok: false, errors: [{ field: e.field ?? '$', message: e.field ? e.message.slice(e.field.length + 2) : e.message }], xml: null, wbxmlBytes: null, nodes: [] } };
    if (e instanceof ProfileError) return { check: { ok: false, errors: e.errors, xml: null, wbxmlBytes: null, nodes: [] } };
    throw e;
  }
}

// --- stored profiles (the store `dmw bootstrap save|list` uses) -------------------------------

export function listStoredProfiles(store = new ProfileStore()): StoredProfiles {
  return {
    dir: store.dir,
    profiles: store.list().map((id) => {
      try {
        const p = store.get(id);
        return { id, serverId: p?.serverId ?? null, address: p?.address ?? null, error: p ? null : 'gone' };
      } catch (e) {
        return { id, serverId: null, address: null, error: e instanceof Error ? e.message : String(e) };
      }
    }),
  };
}

/** Validates (every bad field named, as the check does) and stores; a bad profile is not stored. */
export function saveStoredProfile(id: string, input: Record<string, unknown>, store = new ProfileStore()): ProfileSaveResult {
  let profile: BootstrapProfile;
  try {
    profile = validateProfile(input);
  } catch (e) {
    if (e instanceof ProfileError) return { ok: false, id, file: null, errors: e.errors };
    throw e;
  }
  try {
    return { ok: true, id, file: store.save(id, profile), errors: [] };
  } catch (e) {
    if (e instanceof ProfileError) return { ok: false, id, file: null, errors: e.errors };
    throw e;
  }
}

export function loadStoredProfile(id: string, store = new ProfileStore()): { id: string; profile: Record<string, unknown> } {
  const p = store.get(id);
  if (!p) throw new Error(`no stored profile "${id}" in ${store.dir}`);
  return { id, profile: p as unknown as Record<string, unknown> };
}

export class BootstrapService {
  private monitor: PcscMonitor | undefined;
  private opening: Promise<void> | undefined;
  private reason: string | null = null;
  private nextFlash = 1;
  private flashing = false;
  private closed = false;
  private hexOf: ((b: Uint8Array) => string) | undefined;
  private atrText: ((b: Uint8Array) => string) | undefined;

  constructor(
    private readonly emit: Emit,
    private readonly openMonitor: OpenMonitor = defaultOpenMonitor,
  ) {}

  /** Opens PC/SC when it is not open yet (again after pcscd went away). */
  private async ensure(): Promise<void> {
    if (this.monitor || this.closed) return;
    if (this.opening) return this.opening;
    this.opening = (async () => {
      try {
        const apdu = await import('../../native/pcsc/apdu.js');
        const atr = await import('../../native/pcsc/atr.js');
        this.hexOf = apdu.hex;
        this.atrText = (b) => atr.describeAtr(atr.parseAtr(b));
        const m = await this.openMonitor();
        if (this.closed) {
          await m.close().catch(() => undefined);
          return;
        }
        this.monitor = m;
        this.reason = null;
        const changed = () => this.emit('bootstrap.readers', this.status());
        for (const ev of ['reader-added', 'reader-removed', 'card-inserted', 'card-removed', 'status'] as const) m.on(ev, changed);
        m.on('error', (e) => {
          // pcscd stopped, or the watch failed: say so and open again on the next call.
          this.reason = `PC/SC: ${e.message}`;
          this.monitor = undefined;
          void m.close().catch(() => undefined);
          this.emit('bootstrap.readers', this.status());
        });
      } catch (e) {
        this.reason = e instanceof Error ? e.message : String(e);
      }
    })();
    try {
      await this.opening;
    } finally {
      this.opening = undefined;
    }
  }

  private readerView(r: ReaderInfo): CardReaderView {
    const atr = r.present && r.atr && r.atr.length > 0 ? r.atr : undefined;
    let atrText: string | null = null;
    if (atr && this.atrText) {
      try {
        atrText = this.atrText(atr);
      } catch {
        atrText = null;
      }
    }
    return { name: r.name, present: r.present, atr: atr && this.hexOf ? this.hexOf(atr) : null, atrText, exclusive: r.exclusive, inUse: r.inUse, mute: r.mute };
  }

  status(): ReadersStatus {
    if (!this.monitor) return { available: false, reason: this.reason ?? 'PC/SC not opened yet', readers: [] };
    return { available: true, reason: null, readers: this.monitor.readers().map((r) => this.readerView(r)) };
  }

  async readers(): Promise<ReadersStatus> {
    await this.ensure();
    return this.status();
  }

  async flash(p: { profile: Record<string, unknown>; reader?: string | undefined; pin?: string | undefined; pinRef?: number | undefined; force?: boolean | undefined }): Promise<FlashResult> {
    const flashId = this.nextFlash++;
    const trace: ApduTraceView[] = [];
    const fail = (error: string, reader: string | null = null): FlashResult => ({ flashId, ok: false, reader, error, report: null, verification: null, trace });
    const built = checkProfile(p.profile);
    if (!built.profile || !built.wbxml) return fail(`the profile has errors: ${built.check.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
    if (this.flashing) return fail('a flash is already running');
    await this.ensure();
    const monitor = this.monitor;
    if (!monitor) return fail(this.reason ?? 'PC/SC is not available');
    const card = await import('../bootstrap/card.js');
    const { CardChannel } = await import('../../native/pcsc/channel.js');
    const { decodeBootstrap, diffAgainstProfile, formatDiff } = await import('../bootstrap/diff.js');
    let pin;
    if (p.pin !== undefined) {
      try {
        pin = { value: card.pinBytes(p.pin), ref: p.pinRef ?? 0x01, force: p.force ?? false };
      } catch (e) {
        return fail(`PIN: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    this.flashing = true;
    let reader: string | null = null;
    let conn;
    try {
      const info = monitor.pickReader(p.reader);
      reader = info.name;
      conn = await monitor.connect(info.name, { exclusive: true });
      const channel = new CardChannel(conn, {
        onTrace: (e) => {
          const t = { flashId, ...e };
          if (trace.length < MAX_TRACE) trace.push(t);
          this.emit('bootstrap.trace', t);
        },
      });
      const onProgress = (x: FlashProgress) =>
        this.emit('bootstrap.progress', { flashId, phase: x.phase, message: x.message, ...(x.done !== undefined ? { done: x.done } : {}), ...(x.total !== undefined ? { total: x.total } : {}) });
      // The write's own 'done' is not the end here: the read-back comes after it.
      const writeProgress = (x: FlashProgress) => onProgress(x.phase === 'done' ? { phase: 'register', message: x.message } : x);
      const pkcs = new card.Pkcs15Card(channel, writeProgress);
      const r = await pkcs.writeBootstrap(built.wbxml, pin ? { pin, onProgress: writeProgress } : { onProgress: writeProgress });
      // Read back the way a handset would and compare with the profile.
      onProgress({ phase: 'verify', message: 'reading the bootstrap back as a handset would, to compare with the profile' });
      const back = await new card.Pkcs15Card(channel).readBootstrap();
      const diffs = diffAgainstProfile(decodeBootstrap(back.wbxml), built.profile);
      onProgress({ phase: 'done', message: diffs.length === 0 ? 'the card matches the profile' : `${diffs.length} difference(s) from the profile` });
      return {
        flashId,
        ok: diffs.length === 0,
        reader,
        error: diffs.length === 0 ? null : 'the card read back differs from the profile',
        report: {
          fid: r.fid.toString(16).toUpperCase().padStart(4, '0'), bytes: r.bytes, efSize: r.efSize, unchanged: r.unchanged, updateCommands: r.updateCommands,
          chunksSkipped: r.chunksSkipped, created: r.created, exchanges: r.exchanges, ms: r.ms,
        },
        verification: { matches: diffs.length === 0, differences: formatDiff(diffs) },
        trace,
      };
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e), reader);
    } finally {
      await conn?.disconnect('leave').catch(() => undefined);
      this.flashing = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.opening?.catch(() => undefined);
    const m = this.monitor;
    this.monitor = undefined;
    await m?.close().catch(() => undefined);
  }
}
