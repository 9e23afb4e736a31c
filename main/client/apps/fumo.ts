/**
 * A demo firmware-update app (OMA FUMO 1.0) on a virtual handset: it registers `<x>` (default
 * ./FwUpdate/Lab) through the client-app registry and plays the device side of a firmware update.
 *
 *   <x>                    Type urn:oma:mo:oma-fumo:1.0
 *   <x>/PkgName            chr  Get, Replace
 *   <x>/PkgVersion         chr  Get, Replace
 *   <x>/Download           node Get, Exec        ./PkgURL chr Get, Replace
 *   <x>/Update             node Get, Exec        ./PkgData bin Replace (the package, by DM large object)
 *   <x>/DownloadAndUpdate  node Get, Exec        ./PkgURL chr Get, Replace
 *   <x>/State              int  Get              (FUMO state, below)
 *   <x>/Ext                node
 *
 * FUMO (§10.2): the client answers an accepted Exec with 202 and, when the operation is over, sends
 * a Generic Alert 1226 to the server in a new session: Item Source the node that was Exec'd (what
 * real clients put there, e.g. Samsung's, and what a server matches on), Meta Type
 * `org.openmobilealliance.dm.firmwareupdate.update` (or .download / .downloadandupdate), Format int,
 * Data the result code (200 success, 4xx/5xx failures, which also carry Meta Mark `critical`), and
 * the Exec's Correlator when the Exec had one (never one of our own).
 *
 * States (FUMO §10.2.3): 10 Idle/Start, 20 Download Failed, 30 Download Progressing, 40 Download
 * Complete, 50 Ready to Update, 60 Update Progressing, 70 Update Failed / Have Data, 80 Update
 * Failed / No Data, 90 Update Successful / Have Data, 100 Update Successful / No Data.
 * A server's Replace of Update/PkgData is the download: 10 -> 40. Exec Update: 40 -> 60 -> 100 (the
 * package is consumed; `keepPackage` gives 90) or 70 on failure. No package: 80 and result 410.
 * The "download" of Download/DownloadAndUpdate is simulated: any http(s) PkgURL succeeds, anything
 * else fails with 411 (malformed or bad URL) and State 20. Nothing is fetched.
 */
import { DEVICE } from '../../tree/tree.js';
import type { ExecOutcome, ExecRequest } from '../../tree/processor/index.js';
import type { SessionOutcome } from '../handset.js';
import type { ClientAppRegistry, MoChange, MoInfo } from './registry.js';

export const FUMO_MO_TYPE = 'urn:oma:mo:oma-fumo:1.0';

export const FUMO_STATE = {
  IDLE: 10,
  DOWNLOAD_FAILED: 20,
  DOWNLOAD_PROGRESSING: 30,
  DOWNLOAD_COMPLETE: 40,
  READY_TO_UPDATE: 50,
  UPDATE_PROGRESSING: 60,
  UPDATE_FAILED_HAVE_DATA: 70,
  UPDATE_FAILED_NO_DATA: 80,
  UPDATE_SUCCESSFUL_HAVE_DATA: 90,
  UPDATE_SUCCESSFUL_NO_DATA: 100,
} as const;

export type FumoOperation = 'Download' | 'Update' | 'DownloadAndUpdate';

export const FUMO_ALERT_TYPE: Record<FumoOperation, string> = {
  Download: 'org.openmobilealliance.dm.firmwareupdate.download',
  Update: 'org.openmobilealliance.dm.firmwareupdate.update',
  DownloadAndUpdate: 'org.openmobilealliance.dm.firmwareupdate.downloadandupdate',
};

/** FUMO result codes the demo uses (§10.2.2.4). */
export const FUMO_RESULT = { SUCCESS: 200, UPDATE_FAILED: 410, BAD_URL: 411 } as const;

export interface FumoOptions {
  appId?: string;
  root?: string;
  /** ServerIDs that may manage the MO (Get, Replace, Exec, Add, Delete on it). */
  servers: readonly string[];
  pkgName?: string;
  pkgVersion?: string;
  /** Milliseconds each simulated step (download, install) takes. Default 200. */
  stepMs?: number;
  /** The install's result code: 200, or a FUMO failure code (a function decides per package). Default 200. */
  result?: number | ((pkg: Uint8Array) => number);
  /** Keep the package after a successful update (State 90, not 100). Default false. */
  keepPackage?: boolean;
  /** After a successful update, DevDetail/FwV becomes PkgVersion (when both exist). Default true. */
  updateFwV?: boolean;
  /** Sessions tried to deliver the report before giving up. Default 3. */
  reportAttempts?: number;
  retryDelayMs?: number;
  /** Existing MO at the root (a saved tree): adopt it (default) or replace it. */
  existing?: 'adopt' | 'replace' | 'refuse';
}

/** One delivered (or undeliverable) report. */
export interface FumoReport {
  operation: FumoOperation;
  serverId: string;
  correlator?: string;
  resultCode: number;
  state: number;
  attempts: number;
  delivered: boolean;
  session?: SessionOutcome;
}

export class FirmwareUpdateApp {
  readonly appId: string;
  readonly root: string;
  readonly mo: MoInfo;
  /** Changes servers made to the MO, as the app heard them (DM-8). */
  readonly heard: MoChange[] = [];
  readonly reports: FumoReport[] = [];
  private running: Promise<void> | undefined;
  /** Pending simulated steps: close() ends them at once. */
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private closed = false;

  private constructor(
    private readonly registry: ClientAppRegistry,
    private readonly opts: FumoOptions,
  ) {
    this.appId = opts.appId ?? 'org.dmworkbench.fumo-demo';
    this.root = opts.root ?? './FwUpdate/Lab';
    const exec = (op: FumoOperation) => (req: ExecRequest) => this.onExec(op, req);
    this.mo = registry.register({
      appId: this.appId,
      root: this.root,
      type: FUMO_MO_TYPE,
      servers: opts.servers,
      existing: opts.existing ?? 'adopt',
      nodes: [
        { path: 'PkgName', format: 'chr', value: opts.pkgName ?? '', access: ['Get', 'Replace'] },
        { path: 'PkgVersion', format: 'chr', value: opts.pkgVersion ?? '', access: ['Get', 'Replace'] },
        { path: 'Download', format: 'node', access: ['Get', 'Exec'] },
        { path: 'Download/PkgURL', format: 'chr', value: '', access: ['Get', 'Replace'] },
        { path: 'Update', format: 'node', access: ['Get', 'Exec'] },
        { path: 'Update/PkgData', format: 'bin', value: null, access: ['Replace'] },
        { path: 'DownloadAndUpdate', format: 'node', access: ['Get', 'Exec'] },
        { path: 'DownloadAndUpdate/PkgURL', format: 'chr', value: '', access: ['Get', 'Replace'] },
        { path: 'State', format: 'int', value: FUMO_STATE.IDLE, access: ['Get'] },
        { path: 'Ext', format: 'node' },
      ],
      exec: { Download: exec('Download'), Update: exec('Update'), DownloadAndUpdate: exec('DownloadAndUpdate') },
    }, (c) => this.onChange(c));
  }

  /** Registers the FUMO MO on the registry's handset. */
  static install(registry: ClientAppRegistry, opts: FumoOptions): FirmwareUpdateApp {
    return new FirmwareUpdateApp(registry, opts);
  }

  get state(): number {
    return Number(this.leaf('State') ?? FUMO_STATE.IDLE);
  }

  /** Resolves when no operation or report is in progress. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops pending steps and deregisters the MO (its nodes leave the tree). */
  close(): void {
    this.closed = true;
    for (const [t, resolve] of this.timers) {
      clearTimeout(t);
      resolve();
    }
    this.timers.clear();
    this.registry.deregister(this.appId, this.root);
  }

  // ------------------------------------------------------------------------------- DM-8

  private onChange(c: MoChange): void {
    this.heard.push(c);
    // A Replace of the package is FUMO's DM download (large object): the data is here now.
    if (c.command === 'Replace' && c.path === `${this.root}/Update/PkgData` && !this.busy()) {
      void this.setState(hasBytes(c.value) ? FUMO_STATE.DOWNLOAD_COMPLETE : FUMO_STATE.IDLE);
    }
  }

  // ------------------------------------------------------------------------------- Exec

  private onExec(op: FumoOperation, req: ExecRequest): ExecOutcome {
    if (this.closed) return { status: 500, message: 'the firmware-update app has stopped' };
    if (this.busy()) return { status: 500, message: `a firmware operation is already running (State ${this.state})` };
    // Work that cannot be undone does not belong in an Atomic: refuse rather than half-apply.
    if (req.inAtomic) return { status: 500, message: `${op} cannot run inside an Atomic (a firmware update cannot be rolled back)` };
    const job = { op, serverId: req.serverId, ...(req.correlator !== undefined ? { correlator: req.correlator } : {}) };
    // Never await the report here: it needs a new session, which waits for this one to end.
    this.running = this.run(job)
      .catch((e: unknown) => process.emitWarning(`firmware-update app: ${op} for ${req.serverId} failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        this.running = undefined;
      });
    return { status: 202, message: `${op} accepted; the result follows in a Generic Alert 1226${req.correlator !== undefined ? ` (Correlator ${req.correlator})` : ''}` };
  }

  private busy(): boolean {
    const s = this.state;
    return this.running !== undefined || s === FUMO_STATE.DOWNLOAD_PROGRESSING || s === FUMO_STATE.UPDATE_PROGRESSING;
  }

  private async run(job: { op: FumoOperation; serverId: string; correlator?: string }): Promise<void> {
    let code: number;
    if (job.op === 'Update') code = await this.update();
    else {
      code = await this.download(job.op === 'Download' ? 'Download/PkgURL' : 'DownloadAndUpdate/PkgURL');
      if (job.op === 'DownloadAndUpdate' && code === FUMO_RESULT.SUCCESS) code = await this.update();
    }
    if (this.closed) return;
    await this.report(job, code);
  }

  private async download(urlLeaf: string): Promise<number> {
    const url = String(this.leaf(urlLeaf) ?? '');
    await this.setState(FUMO_STATE.DOWNLOAD_PROGRESSING);
    await this.step();
    if (this.closed) return FUMO_RESULT.UPDATE_FAILED;
    if (!/^https?:\/\/\S+$/i.test(url)) {
      await this.setState(FUMO_STATE.DOWNLOAD_FAILED);
      return FUMO_RESULT.BAD_URL;
    }
    // Simulated: the package is a few bytes naming where it came from.
    await this.whenTreeIdle();
    this.registry.setValue(this.appId, `${this.root}/Update/PkgData`, new TextEncoder().encode(`firmware from ${url}`));
    await this.setState(FUMO_STATE.DOWNLOAD_COMPLETE);
    return FUMO_RESULT.SUCCESS;
  }

  private async update(): Promise<number> {
    const pkg = this.leaf('Update/PkgData');
    if (!hasBytes(pkg)) {
      await this.setState(FUMO_STATE.UPDATE_FAILED_NO_DATA);
      return FUMO_RESULT.UPDATE_FAILED;
    }
    await this.setState(FUMO_STATE.UPDATE_PROGRESSING);
    await this.step();
    if (this.closed) return FUMO_RESULT.UPDATE_FAILED;
    const r = this.opts.result ?? FUMO_RESULT.SUCCESS;
    const code = typeof r === 'function' ? r(pkg) : r;
    if (code < 200 || code >= 300) {
      await this.setState(FUMO_STATE.UPDATE_FAILED_HAVE_DATA);
      return code;
    }
    if (this.opts.updateFwV ?? true) {
      const version = this.leaf('PkgVersion');
      const fwv = this.registry.tree.lookup('./DevDetail/FwV');
      // The device's own node (not the app's MO): written as the device, after the install.
      await this.whenTreeIdle();
      if (typeof version === 'string' && version !== '' && fwv !== undefined) this.registry.tree.replace(DEVICE, './DevDetail/FwV', version);
    }
    if (this.opts.keepPackage) await this.setState(FUMO_STATE.UPDATE_SUCCESSFUL_HAVE_DATA);
    else {
      await this.whenTreeIdle();
      this.registry.setValue(this.appId, `${this.root}/Update/PkgData`, null);
      await this.setState(FUMO_STATE.UPDATE_SUCCESSFUL_NO_DATA);
    }
    return code;
  }

  private async report(job: { op: FumoOperation; serverId: string; correlator?: string }, resultCode: number): Promise<void> {
    const attempts = Math.max(1, this.opts.reportAttempts ?? 3);
    const failed = resultCode < 200 || resultCode >= 300;
    const rec: FumoReport = { operation: job.op, serverId: job.serverId, resultCode, state: this.state, attempts: 0, delivered: false };
    if (job.correlator !== undefined) rec.correlator = job.correlator;
    this.reports.push(rec);
    for (let i = 0; i < attempts && !this.closed; i++) {
      if (i > 0) await this.step(this.opts.retryDelayMs ?? 1000);
      rec.attempts++;
      rec.session = await this.registry.sendGenericAlert(this.appId, {
        serverId: job.serverId,
        source: `${this.root}/${job.op}`,
        type: FUMO_ALERT_TYPE[job.op],
        format: 'int',
        data: resultCode,
        ...(job.correlator !== undefined ? { correlator: job.correlator } : {}),
        ...(failed ? { mark: 'critical' } : {}),
      });
      if (rec.session.ok) {
        rec.delivered = true;
        return;
      }
    }
  }

  // ------------------------------------------------------------------------------- helpers

  private leaf(rel: string): string | Uint8Array | null | undefined {
    return this.registry.tree.lookup(`${this.root}/${rel}`)?.value;
  }

  private async setState(s: number): Promise<void> {
    await this.whenTreeIdle();
    if (this.closed) return;
    this.registry.setValue(this.appId, `${this.root}/State`, s);
  }

  /**
   * A step may end while a server's Atomic is open on the tree (another Exec awaiting inside it);
   * the app's writes wait for it, or a rollback would undo them.
   */
  private async whenTreeIdle(): Promise<void> {
    while (this.registry.tree.inTransaction && !this.closed) await this.step(10);
  }

  private step(ms = this.opts.stepMs ?? 200): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.set(t, resolve);
    });
  }
}

function hasBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.byteLength > 0;
}
