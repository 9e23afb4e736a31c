/**
 * `--demo`: a live system for a newcomer. Three virtual handsets (from the handset module, see
 * handsets.ts) join the running server and keep having real DM sessions: the driver alternates
 * client-initiated sessions with jobs queued through the backend (so paused queues stay paused) —
 * discover the tree, read ACLs, read values. Nothing is written to the log but real traffic.
 */
import type { Backend } from './backend.js';
import type { JobSpecInput } from './contract.js';
import type { HandsetFleet } from './handsets.js';

export interface DemoOptions {
  handsets?: number;
  /** Time between two demo actions (one handset each). */
  intervalMs?: number;
}

const ACL_NODES = ['.', './DevInfo', './DevDetail', './DMAcc', './Inbox'];

export class DemoDriver {
  private timer: NodeJS.Timeout | undefined;
  private turn = 0;
  private readonly steps = new Map<string, number>();
  private busy = false;

  constructor(
    private readonly backend: Backend,
    private readonly fleet: HandsetFleet,
    private readonly opts: DemoOptions = {},
  ) {}

  async start(): Promise<void> {
    const want = this.opts.handsets ?? 3;
    const have = this.fleet.list().length;
    if (have < want) await this.fleet.add(want - have);
    const every = this.opts.intervalMs ?? 2500;
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** What the handset's n-th demo step does: first learn the tree, then keep it fresh. */
  private async plan(devId: string, n: number): Promise<JobSpecInput | 'connect' | undefined> {
    if (n === 0) return { kind: 'discover', uri: '.' };
    // The root's ACL needs a read-acl job: `.?prop=ACL` is not a URI a job may name directly.
    if (n === 1) return { kind: 'read-acl', uri: '.' };
    if (n === 2) {
      const nodes = (await this.backend.treeEntries(devId)).filter((e) => !e.uri.includes('?') && e.uri !== '.').map((e) => e.uri);
      const uris = [...new Set([...ACL_NODES.filter((u) => u !== '.'), ...nodes])].slice(0, 80);
      return { kind: 'sequence', commands: uris.map((uri) => ({ kind: 'get' as const, uri: `${uri}?prop=ACL` })) };
    }
    if (n === 3) {
      const leaves = await this.unreadLeaves(devId);
      if (leaves.length > 0) return { kind: 'sequence', commands: leaves.map((uri) => ({ kind: 'get' as const, uri })) };
    }
    return n % 3 === 0 ? { kind: 'get', uri: './DevDetail/SwV' } : 'connect';
  }

  private async unreadLeaves(devId: string): Promise<string[]> {
    const entries = await this.backend.treeEntries(devId);
    return entries.filter((e) => e.format !== null && e.format !== 'node' && e.data === null && !e.uri.includes('?') && !/AAuth(Secret|Data)$/.test(e.uri)).slice(0, 24).map((e) => e.uri);
  }

  private async tick(): Promise<void> {
    if (this.busy || !this.backend.running) return;
    const running = this.fleet.list().filter((h) => h.running);
    if (running.length === 0) return;
    this.busy = true;
    try {
      const h = running[this.turn++ % running.length]!;
      const n = this.steps.get(h.devId) ?? 0;
      this.steps.set(h.devId, n + 1);
      const what = await this.plan(h.devId, n);
      if (what === 'connect' || what === undefined) await this.fleet.connect(h.devId);
      else {
        const r = await this.backend.handlers['jobs.add']({ device: h.devId, spec: what, notify: true });
        // A handset that cannot be notified picks the job up when it calls in.
        if (r.notified && !r.notified.ok) await this.fleet.connect(h.devId);
      }
    } catch (e) {
      process.emitWarning(`demo: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.busy = false;
    }
  }
}
