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
 * missed, or a `gap` event when the backlog no longer reaches back that far. A comment line every
 * `heartbeatMs` keeps proxies from closing an idle stream.
 */
import type http from 'node:http';
import { EventBacklog, gapNotice, type EventSink, type EventStreamLimits } from '../event-backlog.js';
import type { ServerEvent } from '../events.js';
import type { Federation, FederationEvent } from '../federation.js';
import { principalName, type Principal } from './auth.js';
import { ApiError } from './errors.js';
import { publicJob } from './public.js';
import type { StreamEventType } from './schemas.js';

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

/** The API's one event stream: every streamed server and federation event, in one backlog. */
export class EventHub {
  readonly backlog: EventBacklog<StreamMeta>;
  private readonly offs: Array<() => void>;
  private readonly open = new Set<http.ServerResponse>();
  /** Events whose audience is being looked up, published in the order they came. */
  private publishing: Promise<void> = Promise.resolve();

  constructor(readonly fed: Federation, limits: Partial<EventStreamLimits> = {}) {
    this.backlog = new EventBacklog<StreamMeta>(limits);
    const publish = (e: ServerEvent | FederationEvent) => {
      const s = streamPayload(e);
      if (!s) return;
      const meta = streamMeta(e, s.type, s.device);
      const text = JSON.stringify(s.data);
      // Without peers only the operator subscribes: nothing to look up.
      if (fed.peers.length === 0) return this.backlog.publish(meta, text);
      this.publishing = this.publishing.then(async () => {
        try {
          Object.assign(meta, await fed.audience(meta));
        } catch (err) {
          process.emitWarning(`event ${meta.type}: who may see it could not be read (${(err as Error).message}); shown to the operator only`);
        }
        this.backlog.publish(meta, text);
      });
    };
    this.offs = [fed.server.bus.subscribe(publish), fed.on(publish)];
  }

  /** Answers the request with the event stream, from `lastEventId` on when given. */
  openStream(req: http.IncomingMessage, res: http.ServerResponse, p: Principal, filter: StreamFilter, lastEventId: number | undefined, heartbeatMs = 15_000): void {
    const fed = this.fed;
    const visible = (m: StreamMeta): boolean => {
      if (filter.types && !filter.types.includes(m.type)) return false;
      if (filter.device !== undefined && m.device !== filter.device) return false;
      if (p.kind === 'operator') return true;
      if (m.jobId !== undefined) return m.owner === principalName(p);
      if (m.peer !== undefined) return m.peer === p.id;
      return m.device !== null && (m.managers ?? []).includes(p.id);
    };
    let dropped = false;
    const sink: EventSink<StreamMeta> = {
      accepts: visible,
      write: (e, written) => {
        const chunk = `id: ${e.id}\nevent: ${e.meta.type}\ndata: ${e.text}\n\n`;
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
    const sub = this.backlog.subscribe(sink, lastEventId);

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // The ready event's id is where this stream starts: a client that reconnects at once misses nothing.
    res.write(`id: ${sub.resume.after}\nevent: ready\ndata: ${JSON.stringify({
      principal: principalName(p), serverId: fed.server.config.serverId, types: filter.types ?? 'all', device: filter.device ?? null,
      lastEventId: sub.resume.after, resumed: sub.resume.kind === 'resumed',
    })}\n\n`);
    const gap = gapNotice(sub.resume, 'catch up with GET /api/v1/jobs');
    if (gap) res.write(`event: gap\ndata: ${JSON.stringify(gap)}\n\n`);
    this.open.add(res);
    sub.start();

    const beat = setInterval(() => {
      // Only to an idle stream: a subscriber with unread events needs no ping, and must not grow.
      if (!res.writableEnded && res.writableLength === 0 && sub.stats().queuedBytes === 0) res.write(': ping\n\n');
    }, heartbeatMs);
    beat.unref();
    const stop = () => {
      clearInterval(beat);
      sub.close();
      this.open.delete(res);
    };
    // Not req 'close': that fires as soon as the (empty) request body is read.
    res.on('close', stop);
    req.socket.on('close', stop);
    if (dropped) stop();
  }

  stats() {
    return this.backlog.stats();
  }

  close(): void {
    for (const off of this.offs) off();
    this.backlog.close();
    for (const res of this.open) res.end();
    this.open.clear();
  }
}
