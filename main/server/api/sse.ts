/**
 * Server-sent events: job results, device alerts and session activity as they happen, filtered to
 * what the caller may see (a peer: its own jobs, and the devices granted to it).
 *
 *   id: 17
 *   event: job-done
 *   data: {"type":"job-done","at":"...","job":{...same shape as GET /api/v1/jobs/17...}}
 *
 * Live only: a reconnecting subscriber catches up with GET /api/v1/jobs. A comment line every
 * `heartbeatMs` keeps proxies from closing an idle stream.
 */
import type http from 'node:http';
import type { ServerEvent } from '../events.js';
import type { Federation, FederationEvent } from '../federation.js';
import { principalName, type Principal } from './auth.js';
import { publicJob } from './public.js';
import type { StreamEventType } from './schemas.js';

export interface StreamFilter {
  device?: string;
  types?: StreamEventType[];
}

let nextId = 1;

/** The payload a subscriber gets for a server event, or undefined for events that are not streamed. */
export function streamPayload(e: ServerEvent | FederationEvent): { type: StreamEventType; device: string | null; data: Record<string, unknown> } | undefined {
  switch (e.type) {
    case 'job-done':
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

export function openStream(req: http.IncomingMessage, res: http.ServerResponse, p: Principal, filter: StreamFilter, fed: Federation, heartbeatMs = 15_000): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  const write = (name: string, data: unknown) => {
    if (!res.writableEnded) res.write(`id: ${nextId++}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  write('ready', { principal: principalName(p), serverId: fed.server.config.serverId, types: filter.types ?? 'all', device: filter.device ?? null });

  const deliver = (e: ServerEvent | FederationEvent) => {
    const s = streamPayload(e);
    if (!s) return;
    if (filter.types && !filter.types.includes(s.type)) return;
    if (filter.device !== undefined && s.device !== filter.device) return;
    if (p.kind === 'peer') {
      if (e.type === 'job-done' || e.type === 'job-sent') {
        const id = e.type === 'job-done' ? e.job.id : e.jobId;
        if (!fed.maySeeJob(p, { id })) return;
      } else if (e.type === 'delegation') {
        if (e.delegation.peer !== p.id) return;
      } else if (s.device === null || !fed.mayManage(p, s.device)) return;
    }
    write(s.type, s.data);
  };
  const offBus = fed.server.bus.subscribe(deliver);
  const offFed = fed.on(deliver);
  const beat = setInterval(() => {
    if (!res.writableEnded) res.write(': ping\n\n');
  }, heartbeatMs);
  beat.unref();
  const stop = () => {
    clearInterval(beat);
    offBus();
    offFed();
  };
  // Not req 'close': that fires as soon as the (empty) request body is read.
  res.on('close', stop);
  req.socket.on('close', stop);
}
