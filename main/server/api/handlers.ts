/**
 * The routes of /api/v1. One API for both kinds of caller (auth.ts): the operator's line-of-business
 * scripts (DMA-DMS) see everything; a peer DM server (DM-6) sees the devices granted or delegated
 * to it, only the subtrees it was given, and only the jobs it submitted.
 */
import { JobSpecError, parseJobSpec } from '../jobs.js';
import { resolveUnconfirmedPolicy } from '../unconfirmed.js';
import { JobDecisionError } from '../../store/types.js';
import type { JobSpec } from '../types.js';
import { deviceIdProblem } from '../../protocol/device-id.js';
import { checkDelegableSubtree, jobUris, withinSubtrees, type Federation } from '../federation.js';
import { principalName, type Principal } from './auth.js';
import { ApiError } from './errors.js';
import { publicDevice, publicJob } from './public.js';
import type { RequestContext, Route } from './router.js';
import {
  AddJobBody, ClearJobsQuery, JobDecisionBody, DelegateBody, DevicesQuery, EventsQuery, GrantBody, GrantQuery, JobsQuery, PeerDelegationBody, PeerDelegationNotice, SetDeviceBody,
} from './schemas.js';
import { parseLastEventId, type EventHub } from './sse.js';

function operatorOnly(p: Principal, what: string): void {
  if (p.kind !== 'operator') throw new ApiError(403, 'forbidden', `${what} is for this server's operator (--api-token), not for peer ${p.id}`, 'authorization');
}

function peerOnly(p: Principal, what: string): string {
  if (p.kind !== 'peer') throw new ApiError(403, 'forbidden', `${what} is for peer DM servers (--peer), not for the operator token`, 'authorization');
  return p.id;
}

/** The device id in a path (`/devices/{devId}`), checked as in bodies and queries. */
function deviceParam(c: RequestContext): string {
  const v = c.params[0]!;
  const why = deviceIdProblem(v);
  if (why) throw new ApiError(400, 'invalid', `devId: ${why}`, 'devId');
  return v;
}

function idParam(c: RequestContext, name: string): number {
  const v = c.params[0]!;
  if (!/^[1-9]\d{0,15}$/.test(v)) throw new ApiError(400, 'invalid', `${name} must be a positive integer, got "${v}"`, name);
  return Number(v);
}

async function deviceView(fed: Federation, p: Principal, devId: string) {
  const d = await fed.server.store.device(devId);
  if (!d) return undefined;
  const delegations = (await fed.delegations({ device: devId })).filter((x) => p.kind === 'operator' || x.peer === p.id);
  const grants = (await fed.grants({ device: devId })).filter((g) => p.kind === 'operator' || g.peer === p.id);
  return {
    ...publicDevice(d),
    delegatedFrom: delegations.filter((x) => x.direction === 'in' && x.status !== 'failed').map((x) => x.peer),
    delegatedTo: delegations.filter((x) => x.direction === 'out' && x.status !== 'failed').map((x) => x.peer),
    grants: grants.map((g) => ({ peer: g.peer, subtrees: g.subtrees })),
  };
}

/** A peer's job must stay inside the subtrees granted to it on that device. */
async function checkPeerJob(fed: Federation, p: Principal, device: string, spec: JobSpec): Promise<void> {
  if (p.kind !== 'peer') return;
  const grant = await fed.grantFor(p.id, device);
  if (!grant) throw new ApiError(404, 'unknown-device', `no device "${device}" that peer ${p.id} may manage here`, 'device');
  for (const { field, uri } of jobUris(spec)) {
    if (!withinSubtrees(uri, grant.subtrees)) {
      throw new ApiError(403, 'forbidden', `${field}: ${uri} is outside the subtrees granted to ${p.id} on ${device} (${grant.subtrees.join(', ')})`, field);
    }
  }
}

export function apiRoutes(fed: Federation, events: EventHub): Route[] {
  const server = fed.server;
  const store = server.store;
  return [
    {
      method: 'GET', path: '/server',
      handler: (c) => ({
        status: 200,
        json: {
          serverId: server.config.serverId, dmUrl: server.url, apiVersion: 1, principal: principalName(c.principal),
          ...(c.principal.kind === 'operator' ? { peers: fed.peers.map((p) => ({ id: p.id, ...(p.url ? { url: p.url } : {}), auth: [...(p.token ? ['token'] : []), 'client-certificate'] })) } : {}),
        },
      }),
    },
    {
      method: 'GET', path: '/devices',
      handler: async (c) => {
        c.q(DevicesQuery);
        const ids = c.principal.kind === 'operator' ? (await store.devices()).map((d) => d.devId) : (await fed.grants({ peer: c.principal.id })).map((g) => g.device);
        const views = [];
        for (const id of ids) views.push(await deviceView(fed, c.principal, id));
        return { status: 200, json: views.filter((d) => d !== undefined) };
      },
    },
    {
      method: 'GET', path: '/devices/:devId',
      handler: async (c) => {
        const devId = deviceParam(c);
        const view = (await fed.mayManage(c.principal, devId)) ? await deviceView(fed, c.principal, devId) : undefined;
        if (!view) throw new ApiError(404, 'unknown-device', c.principal.kind === 'operator' ? `no device "${devId}" on this server` : `no device "${devId}" that peer ${c.principal.id} may manage here`, 'device');
        return { status: 200, json: view };
      },
    },
    {
      // The operator registers a device (it need not have called in yet): where package #0 reaches
      // it, and its own client credentials. The same as the desktop app's DmServer.setDevice.
      method: 'PUT', path: '/devices/:devId',
      handler: async (c) => {
        operatorOnly(c.principal, 'setting how to reach a device');
        const devId = deviceParam(c);
        const b = await c.body(SetDeviceBody);
        await server.setDevice(devId, { ...(b.notifyUrl !== undefined ? { notifyUrl: b.notifyUrl } : {}), ...(b.clientCred !== undefined ? { clientCred: b.clientCred } : {}) });
        return { status: 200, json: await deviceView(fed, c.principal, devId) };
      },
    },
    {
      method: 'POST', path: '/jobs',
      handler: async (c) => {
        const b = await c.body(AddJobBody);
        let spec: JobSpec;
        try {
          spec = parseJobSpec(b.spec);
        } catch (e) {
          if (e instanceof JobSpecError) throw new ApiError(400, 'invalid', `spec.${e.field}: ${e.reason}`, `spec.${e.field}`);
          throw new ApiError(400, 'invalid', `spec: ${(e as Error).message}`, 'spec');
        }
        if (b.onUnconfirmed !== undefined) {
          try {
            resolveUnconfirmedPolicy(spec, b.onUnconfirmed);
          } catch (e) {
            throw new ApiError(400, 'invalid', (e as Error).message, 'onUnconfirmed');
          }
        }
        // The operator may queue for a device never seen (it goes out in its first session), as
        // `dmw job add --data` does; a peer only for devices granted to it.
        await checkPeerJob(fed, c.principal, b.device, spec);
        const policy = b.onUnconfirmed;
        // One transaction with its owner row and its policy: never seen (nor sent) with another policy than the one asked for.
        const job = await fed.addJob(c.principal, b.device, spec, policy === undefined ? {} : { onUnconfirmed: policy });
        const notified = b.notify ? await server.notify(b.device) : undefined;
        return { status: 201, json: { job: publicJob(job), ...(notified ? { notified } : {}) }, headers: { location: `/api/v1/jobs/${job.id}` } };
      },
    },
    {
      method: 'GET', path: '/jobs',
      handler: async (c) => {
        const q = c.q(JobsQuery);
        const jobs = [];
        for (const j of await store.jobs({ ...(q.device ? { device: q.device } : {}), ...(q.status ? { status: q.status } : {}) })) {
          if (await fed.maySeeJob(c.principal, j)) jobs.push(j);
        }
        return { status: 200, json: jobs.map(publicJob) };
      },
    },
    {
      method: 'DELETE', path: '/jobs',
      handler: async (c) => {
        operatorOnly(c.principal, 'clearing a device\'s jobs');
        const q = c.q(ClearJobsQuery);
        const r = await store.clearJobs(q.device);
        return { status: 200, json: { device: q.device, ...r } };
      },
    },
    {
      method: 'GET', path: '/jobs/:id',
      handler: async (c) => {
        const id = idParam(c, 'id');
        const job = await store.job(id);
        if (!job || !(await fed.maySeeJob(c.principal, job))) throw new ApiError(404, 'unknown-job', `no job ${id}${c.principal.kind === 'peer' ? ` submitted by ${c.principal.id}` : ''}`, 'id');
        return { status: 200, json: publicJob(job) };
      },
    },
    {
      // The engineer's decision on an unconfirmed job (its command went out, no Status came back).
      method: 'POST', path: '/jobs/:id/decision',
      handler: async (c) => {
        operatorOnly(c.principal, 'deciding on an unconfirmed job');
        const id = idParam(c, 'id');
        const b = await c.body(JobDecisionBody);
        let job;
        try {
          job = await store.decideJob(id, b.action, Date.now());
        } catch (e) {
          if (!(e instanceof JobDecisionError)) throw e;
          if (e.status === 404) throw new ApiError(404, 'unknown-job', e.message, 'id');
          if (e.status === 409) throw new ApiError(409, 'conflict', e.message, 'id');
          throw new ApiError(400, 'invalid', e.message, 'action');
        }
        if (job.status === 'failed') server.bus.emit({ type: 'job-done', at: new Date(Date.now()).toISOString(), job });
        const notified = b.notify && job.status === 'queued' ? await server.notify(job.device) : undefined;
        return { status: 200, json: notified ? { ...publicJob(job), notified } : publicJob(job) };
      },
    },
    {
      method: 'GET', path: '/events',
      handler: async (c) => {
        const q = c.q(EventsQuery);
        if (q.device !== undefined && c.principal.kind === 'peer' && !(await fed.mayManage(c.principal, q.device))) {
          throw new ApiError(404, 'unknown-device', `no device "${q.device}" that peer ${c.principal.id} may manage here`, 'device');
        }
        const lastEventId = parseLastEventId(c.req.headers['last-event-id']);
        await events.openStream(c.req, c.res, c.principal, { ...(q.device ? { device: q.device } : {}), ...(q.types ? { types: q.types } : {}) }, lastEventId);
        return 'streaming' as const;
      },
    },
    // --- delegation (DM-6) ---------------------------------------------------------------------
    {
      method: 'POST', path: '/delegations',
      handler: async (c) => {
        operatorOnly(c.principal, 'delegating a device');
        const b = await c.body(DelegateBody);
        const subtrees = b.subtrees.map((s) => (typeof s === 'string' ? { uri: s } : s));
        const { delegation, job } = await fed.delegate({ device: b.device, peer: b.peer, subtrees, ...(b.rights ? { rights: b.rights } : {}) });
        const notified = b.notify ? await server.notify(b.device) : undefined;
        return { status: 202, json: { delegation, job: publicJob(job), ...(notified ? { notified } : {}) }, headers: { location: `/api/v1/delegations/${delegation.id}` } };
      },
    },
    {
      method: 'GET', path: '/delegations',
      handler: async (c) => {
        c.q(DevicesQuery);
        return { status: 200, json: await fed.delegations(c.principal.kind === 'peer' ? { peer: c.principal.id } : {}) };
      },
    },
    {
      method: 'GET', path: '/delegations/:id',
      handler: async (c) => {
        const id = idParam(c, 'id');
        const d = await fed.delegation(id);
        if (!d || (c.principal.kind === 'peer' && d.peer !== c.principal.id)) throw new ApiError(404, 'unknown-delegation', `no delegation ${id}`, 'id');
        return { status: 200, json: d };
      },
    },
    {
      // The delegator tells us (the delegate) about a device; we answer with how the device reaches us.
      method: 'POST', path: '/peer/delegations',
      handler: async (c) => {
        const from = peerOnly(c.principal, 'announcing a delegation');
        const b = await c.body(PeerDelegationBody);
        b.subtrees.forEach((s, i) => {
          const why = checkDelegableSubtree(s);
          if (why) throw new ApiError(400, 'invalid', `subtrees.${i}: ${why} (${s})`, `subtrees.${i}`);
        });
        return { status: 201, json: await fed.acceptDelegation(from, b) };
      },
    },
    {
      // The delegator's completion notice: the device took (or refused) our account.
      method: 'POST', path: '/peer/delegations/:id',
      handler: async (c) => {
        const from = peerOnly(c.principal, 'a delegation notice');
        const id = idParam(c, 'id');
        const b = await c.body(PeerDelegationNotice);
        return { status: 200, json: await fed.delegationNotice(from, id, b.status, b.error ?? null) };
      },
    },
    // --- grants: devices a peer may manage through this server ------------------------------
    {
      method: 'GET', path: '/grants',
      handler: async (c) => {
        c.q(DevicesQuery);
        return { status: 200, json: await fed.grants(c.principal.kind === 'peer' ? { peer: c.principal.id } : {}) };
      },
    },
    {
      method: 'POST', path: '/grants',
      handler: async (c) => {
        operatorOnly(c.principal, 'granting a device to a peer');
        const b = await c.body(GrantBody);
        if (!fed.peer(b.peer)) throw new ApiError(400, 'unknown-peer', `peer "${b.peer}" is not configured on this server`, 'peer');
        if (!(await store.device(b.device))) throw new ApiError(404, 'unknown-device', `no device "${b.device}" on this server`, 'device');
        b.subtrees.forEach((s, i) => {
          const why = checkDelegableSubtree(s);
          if (why) throw new ApiError(400, 'invalid', `subtrees.${i}: ${why} (${s})`, `subtrees.${i}`);
        });
        return { status: 201, json: await fed.grant(b.peer, b.device, b.subtrees, 'grant') };
      },
    },
    {
      method: 'DELETE', path: '/grants',
      handler: async (c) => {
        operatorOnly(c.principal, 'revoking a grant');
        const q = c.q(GrantQuery);
        if (!(await fed.revoke(q.peer, q.device))) throw new ApiError(404, 'not-found', `peer ${q.peer} has no grant on ${q.device}`, 'device');
        return { status: 200, json: { peer: q.peer, device: q.device, revoked: true } };
      },
    },
  ];
}
