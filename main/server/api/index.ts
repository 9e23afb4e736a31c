/**
 * The management API (DM-6 server-server and DMA-DMS, API.md) on a running DmServer:
 *
 *   const api = attachApi(server, { auth: buildAuthConfig({ apiToken, peers, serverId }) });
 *   ...; api.close();
 *
 * It shares the server's listener (HTTP or HTTPS; over HTTPS a peer may log in with a lab-CA
 * client certificate) and its store.
 */
import type { DmServer } from '../server.js';
import { Federation } from '../federation.js';
import type { EventStreamLimits } from '../event-backlog.js';
import type { ApiAuthConfig } from './auth.js';
import { apiRoutes } from './handlers.js';
import { authFailureRoutes } from './auth-failures.js';
import { sessionFindingRoutes } from './session-findings.js';
import { packetRoutes } from './packets.js';
import { createRouter } from './router.js';
import { EventHub } from './sse.js';

export interface ApiOptions {
  auth: ApiAuthConfig;
  maxBodyBytes?: number;
  /** Backlog and per-subscriber buffer of the event stream (GET /events); defaults in event-backlog.ts. */
  events?: Partial<EventStreamLimits>;
}

export interface AttachedApi {
  federation: Federation;
  /** The event stream's backlog and subscribers (stats). */
  events: EventHub;
  close(): void;
}

export function attachApi(server: DmServer, opts: ApiOptions): AttachedApi {
  const federation = new Federation(server, opts.auth.peers);
  const events = new EventHub(federation, opts.events);
  server.httpHook = createRouter({ auth: opts.auth, routes: [...apiRoutes(federation, events), ...authFailureRoutes(server), ...sessionFindingRoutes(server.store), ...packetRoutes(server.store)], ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}) });
  return {
    federation,
    events,
    close() {
      server.httpHook = undefined;
      events.close();
      federation.close();
    },
  };
}

export { buildAuthConfig, parsePeerSpec, tokenEquals, PEER_CN_PREFIX, type ApiAuthConfig, type PeerConfig, type Principal } from './auth.js';
export { ApiClient, describeApiError, API_PREFIX } from './client.js';
export { publicJob, publicDevice } from './public.js';
