/**
 * Server-sent events: job results, device alerts and session activity as they happen, filtered to
 * what the caller may see (a peer: its own jobs, and the devices granted to it).
 *
 *   id: 1736934602114017
 *   event: job-done
 *   data: {"type":"job-done","at":"...","job":{...same shape as GET /api/v1/jobs/17...}}
 *
 * Every event has an id and goes through one bounded backlog (../event-backlog.ts): a subscriber
 * that stops reading costs at most its buffer limit and is dropped with a last `dropped` event once
 * it is more than the backlog behind; a client that reconnects with `Last-Event-ID` gets what it
 * missed, or a `gap` event when the backlog no longer reaches back that far. On a shared store the
 * ids are the store's event ids, the same on every instance, and the events table reaches back
 * further than the backlog (shared-events.ts): a client may reconnect to another instance. A comment line every
 * `heartbeatMs` keeps proxies from closing an idle stream.
 */
import type http from 'node:http';
import { EventBacklog, gapNotice, utf8Bytes, type BacklogEntry, type EventSink, type EventStreamLimits, type ResumePoint } from '../event-backlog.js';
import type { PostgresStore } from '../../store/postgres/postgres-store.js';
import type { ServerEvent } from '../events.js';
import type { Federation, FederationEvent } from '../federation.js';
import { principalName, type Principal } from './auth.js';
import { ApiError } from './errors.js';
import { publicJob } from './public.js';
import type { StreamEventType } from './schemas.js';
import { IdOrder, pgEventHistory, type EventHistory } from './shared-events.js';

export interface StreamFilter {
  device?: string;
  types?: StreamEventType[];
}

/** What a subscriber's filter and principal are checked against, kept with each event in the backlog. */
export interface StreamMeta {
  type: StreamEventType;
  device: string | null;
  /** job-sent, job-done, job-unconfirmed: whose job it is decides whether a peer sees it. */
  jobId?: number;
  /** delegation: the peer it is with. */
  peer?: string;
  /**
   * Who besides the operator may see it, settled once when it is published (the federation's tables
   * are read asynchronously, so not per subscriber): the job's owner (`peer:ID` or `operator`), or
   * the peers granted the device. A grant made or revoked later does not change what a replay shows.
   */
  owner?: string;
  managers?: readonly string[];
}

/** After the `dropped` event, how long a subscriber that does not read keeps its socket (and buffer). */
export const DROP_GRACE_MS = 10_000;

/** The payload a subscriber gets for a server event, or undefined for events that are not streamed. */
export function streamPayload(e: ServerEvent | FederationEvent): { type: StreamEventType; device: string | null; data: Record<string, unknown> } | undefined {
  switch (e.type) {
    case 'job-done':
    case 'job-unconfirmed':
      return { type: e.type, device: e.job.device, data: { type: e.type, at: e.at, job: publicJob(e.job) } };
    case 'job-sent':
    case 'alert':
    case 'session-started':
    case 'notified':
      return { type: e.type, device: e.device, data: { ...e } };
    case 'session-ended':
      return { type: e.type, device: e.device, data: { ...e } };
    case 'device-seen':
      // every message refreshes "last seen": only first sightings are news
      return e.firstTime ? { type: e.type, device: e.device, data: { ...e } } : undefined;
    case 'delegation':
      return { type: e.type, device: e.delegation.device, data: { ...e } };
    default:
      return undefined; // message, rejected: the session log has them
  }
}

function streamMeta(e: ServerEvent | FederationEvent, type: StreamEventType, device: string | null): StreamMeta {
  if (e.type === 'job-done' || e.type === 'job-unconfirmed') return { type, device, jobId: e.job.id };
  if (e.type === 'job-sent') return { type, device, jobId: e.jobId };
  if (e.type === 'delegation') return { type, device, peer: e.delegation.peer };
  return { type, device };
}

/** `Last-Event-ID` (what an EventSource sends when it reconnects): absent, or an id this API gave. */
export function parseLastEventId(header: string | string[] | undefined): number | undefined {
  const v = (Array.isArray(header) ? header[0] : header)?.trim();
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,16}$/.test(v)) throw new ApiError(400, 'invalid', `Last-Event-ID must be the id of an event this server sent (digits), got ${JSON.stringify(v.slice(0, 40))}`, 'last-event-id');
  return Number(v);
}

/** How an event goes out on the wire (its id line is what the client's Last-Event-ID becomes). */
function frame(e: BacklogEntry<StreamMeta>): string {
  return `id: ${e.id}\nevent: ${e.meta.type}\ndata: ${e.text}\n\n`;
}

export interface EventHubOptions {
  /** Shared store: how long an event waits for a missing earlier id (shared-events.ts). */
  holdMs?: number;
  /** Shared store: the events table (default: the PostgresStore's). */
  history?: EventHistory;
}

/** What a shared store's stream needs: the table, the id order, and when it knows where it starts. */
interface SharedStream {
  history: EventHistory;
  order: IdOrder;
  ready?: Promise<void>;
  off?: () => Promise<void>;
}

/** Where a new stream starts, and what it first gets from the events table (shared store). */
interface StreamPlan {
  resume: ResumePoint;
  replay?: { from: number; upTo: number };
}

/** Rows read from the events table per query when replaying. */
const REPLAY_PAGE = 500;

/**
 * The API's one event stream: every streamed server and federation event, in one backlog. On a
 * shared store (several instances) the ids are the store's event ids and a resume older than the
 * backlog is replayed from the events table (shared-events.ts), so a client may reconnect to any
 * instance; on SQLite, the backlog's own ids.
 */
export class EventHub {
  readonly backlog: EventBacklog<StreamMeta>;
  private readonly offs: Array<() => void>;
  private readonly open = new Set<http.ServerResponse>();
  /** Events whose audience is being looked up, published in the order they came. */
  private publishing: Promise<void> = Promise.resolve();
  private readonly shared?: SharedStream;
  private closed = false;

  constructor(readonly fed: Federation, limits: Partial<EventStreamLimits> = {}, opts: EventHubOptions = {}) {
    this.backlog = new EventBacklog<StreamMeta>(limits);
    const store = fed.server.store;
    if (store.kind === 'postgres') {
      // Every instance's events come from the store (the delegation events too: on a shared store the
      // federation sends them through the bus, and the bus through the store), with their ids.
      this.shared = {
        history: opts.history ?? pgEventHistory(store as PostgresStore),
        order: new IdOrder((d, late) => this.toStream(d.event as unknown as ServerEvent | FederationEvent, d.id, late), opts.holdMs),
      };
      this.offs = [];
      this.sharedReady().catch((err: unknown) => process.emitWarning(`event stream: the store's events cannot be followed yet (${(err as Error).message}); trying again at the next subscriber`));
    } else {
      this.offs = [fed.server.bus.subscribe((e) => this.toStream(e)), fed.on((e) => this.toStream(e))];
    }
  }

  /** Shared store: listening to the store's events, and the stream starts after its newest one. */
  private sharedReady(): Promise<void> {
    const sh = this.shared!;
    return (sh.ready ??= (async () => {
      sh.off ??= await this.fed.server.store.subscribe((d) => sh.order.push(d));
      if (sh.order.newest !== undefined) return;
      const start = (await sh.history.bounds())?.newest ?? 0;
      this.backlog.startAfter(start);
      sh.order.start(start);
    })().catch((err: unknown) => {
      sh.ready = undefined;
      throw err;
    }));
  }

  /** A server event into the stream (if it is streamed), in the order events come. */
  private toStream(e: ServerEvent | FederationEvent, id?: number, late = false): void {
    if (this.closed) return;
    const s = streamPayload(e);
    if (!s) return;
    const meta = streamMeta(e, s.type, s.device);
    const text = JSON.stringify(s.data);
    const put = () => {
      if (!late || id === undefined) return void this.backlog.publish(meta, text, id);
      process.emitWarning(`event ${id} (${meta.type}) committed after later events were streamed: streamed live now; a client that resumes after a later id will not get it`);
      this.backlog.publishLate(meta, text, id);
    };
    // Without peers only the operator subscribes: nothing to look up.
    if (this.fed.peers.length === 0) return put();
    this.publishing = this.publishing.then(async () => {
      await this.withAudience(meta);
      put();
    });
  }

  private async withAudience(meta: StreamMeta): Promise<void> {
    try {
      Object.assign(meta, await this.fed.audience(meta));
    } catch (err) {
      process.emitWarning(`event ${meta.type}: who may see it could not be read (${(err as Error).message}); shown to the operator only`);
    }
  }

  /**
   * Answers the request with the event stream, from `lastEventId` on when given. Rejects (before
   * anything is written) when a shared store cannot be read: the router answers 503.
   */
  async openStream(req: http.IncomingMessage, res: http.ServerResponse, p: Principal, filter: StreamFilter, lastEventId: number | undefined, heartbeatMs = 15_000): Promise<void> {
    const visible = (m: StreamMeta): boolean => {
      if (filter.types && !filter.types.includes(m.type)) return false;
      if (filter.device !== undefined && m.device !== filter.device) return false;
      if (p.kind === 'operator') return true;
      if (m.jobId !== undefined) return m.owner === principalName(p);
      if (m.peer !== undefined) return m.peer === p.id;
      return m.device !== null && (m.managers ?? []).includes(p.id);
    };
    const plan: StreamPlan = this.shared ? await this.plan(lastEventId) : { resume: this.backlog.resumePoint(lastEventId) };
    this.attach(req, res, p, filter, visible, plan, heartbeatMs).catch((err: unknown) => {
      process.emitWarning(`event stream: replay failed (${(err as Error).message}); the client reconnects with its Last-Event-ID`);
      res.destroy();
    });
  }

  /**
   * Shared store: where a stream starts. Within the backlog: as on SQLite. After the newest id this
   * instance streamed, but one the store has (another instance's stream is a moment ahead): after
   * it, so nothing up to it comes. Older than the backlog: the table's rows up to where the backlog
   * starts, then the backlog; older than the table's oldest row: a gap, then what is kept.
   */
  private async plan(lastEventId: number | undefined): Promise<StreamPlan> {
    await this.sharedReady();
    const b = this.backlog;
    if (lastEventId === undefined || (lastEventId >= b.floorId && lastEventId <= b.newestId)) return { resume: b.resumePoint(lastEventId) };
    const bounds = await this.shared!.history.bounds();
    if (lastEventId > b.newestId) {
      if (bounds && lastEventId <= bounds.newest) return { resume: { kind: 'resumed', after: lastEventId } };
      return { resume: { kind: 'unknown', after: b.newestId, lastEventId } };
    }
    const upTo = b.floorId;
    if (bounds && lastEventId >= bounds.oldest - 1) return { resume: { kind: 'resumed', after: upTo }, replay: { from: lastEventId, upTo } };
    const oldestId = Math.min(bounds?.oldest ?? upTo + 1, upTo + 1);
    return { resume: { kind: 'gap', after: upTo, lastEventId, oldestId }, replay: { from: oldestId - 1, upTo } };
  }

  private async attach(req: http.IncomingMessage, res: http.ServerResponse, p: Principal, filter: StreamFilter, visible: (m: StreamMeta) => boolean, plan: StreamPlan, heartbeatMs: number): Promise<void> {
    const fed = this.fed;
    let dropped = false;
    const sink: EventSink<StreamMeta> = {
      accepts: visible,
      write: (e, written) => {
        const chunk = frame(e);
        res.write(chunk, () => written());
        return e.bytes + chunk.length - e.text.length;
      },
      drop: (notice) => {
        dropped = true;
        // No id line: the client's Last-Event-ID stays the last event it really got.
        res.end(`event: dropped\ndata: ${JSON.stringify({ type: 'dropped', ...notice })}\n\n`);
        setTimeout(() => res.destroy(), DROP_GRACE_MS).unref();
      },
      bufferedBytes: () => res.writableLength,
    };
    const sub = this.backlog.subscribeAt(sink, plan.resume);

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // The ready event's id is where this stream starts: a client that reconnects at once misses nothing.
    const startId = plan.replay ? plan.replay.from : sub.resume.after;
    res.write(`id: ${startId}\nevent: ready\ndata: ${JSON.stringify({
      principal: principalName(p), serverId: fed.server.config.serverId, types: filter.types ?? 'all', device: filter.device ?? null,
      lastEventId: startId, resumed: sub.resume.kind === 'resumed',
    })}\n\n`);
    const gap = gapNotice(sub.resume, 'catch up with GET /api/v1/jobs');
    if (gap) res.write(`event: gap\ndata: ${JSON.stringify(gap)}\n\n`);
    this.open.add(res);

    let beat: NodeJS.Timeout | undefined;
    let stopped = false;
    const stop = () => {
      stopped = true;
      clearInterval(beat);
      sub.close();
      this.open.delete(res);
    };
    // Not req 'close': that fires as soon as the (empty) request body is read.
    res.on('close', stop);
    req.socket.on('close', stop);
    if (plan.replay) await this.replay(res, visible, plan.replay, () => stopped);
    if (stopped) return;
    sub.start();

    beat = setInterval(() => {
      // Only to an idle stream: a subscriber with unread events needs no ping, and must not grow.
      if (!res.writableEnded && res.writableLength === 0 && sub.stats().queuedBytes === 0) res.write(': ping\n\n');
    }, heartbeatMs);
    beat.unref();
    if (dropped) stop();
  }

  /** The table's events in (from, upTo] that this subscriber may see, page by page, waiting for its socket. */
  private async replay(res: http.ServerResponse, visible: (m: StreamMeta) => boolean, r: { from: number; upTo: number }, stopped: () => boolean): Promise<void> {
    for (let after = r.from; after < r.upTo && !stopped();) {
      const rows = await this.shared!.history.between(after, r.upTo, REPLAY_PAGE);
      if (rows.length === 0) return;
      for (const d of rows) {
        after = d.id;
        const e = d.event as unknown as ServerEvent | FederationEvent;
        const s = streamPayload(e);
        if (!s) continue;
        const meta = streamMeta(e, s.type, s.device);
        if (this.fed.peers.length > 0) await this.withAudience(meta);
        if (!visible(meta)) continue;
        const text = JSON.stringify(s.data);
        if (stopped()) return;
        if (!res.write(frame({ id: d.id, meta, text, bytes: utf8Bytes(text) }))) {
          await new Promise<void>((resolve) => {
            const done = () => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          });
        }
      }
    }
  }

  stats() {
    return this.backlog.stats();
  }

  close(): void {
    this.closed = true;
    for (const off of this.offs) off();
    if (this.shared) {
      this.shared.order.stop();
      void this.shared.off?.().catch(() => undefined);
    }
    this.backlog.close();
    for (const res of this.open) res.end();
    this.open.clear();
  }
}
