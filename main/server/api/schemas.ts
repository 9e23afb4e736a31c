/**
 * Every request body and query string the API takes, checked at runtime. Unknown fields are an
 * error (a typo must not be silently ignored).
 */
import { z } from 'zod';
import { JobSpecSchema } from '../../api/contract.js';
import { ACL_COMMANDS } from '../../tree/acl.js';
import { deviceIdProblem } from '../../protocol/device-id.js';
import type { ServerEventType } from '../events.js';

/** A device id in a body or a query: the same rules as in a path (device-id.ts), one limit everywhere. */
export const devId = z.string().superRefine((v, ctx) => {
  const why = deviceIdProblem(v);
  if (why) ctx.addIssue({ code: 'custom', message: why });
});
const dmUri = z.string().min(1).max(4096).refine((u) => u === '.' || u.startsWith('./') || /^[A-Za-z0-9]/.test(u), 'not a DM URI (./Name/...)');
const serverId = z.string().min(1).max(256);

export const AddJobBody = z.object({
  device: devId,
  spec: JobSpecSchema,
  /** Send package #0 through the server's notifiers right away. */
  notify: z.boolean().optional(),
  /**
   * What happens when the command goes out and no Status comes back (main/server/unconfirmed.ts):
   * default ask for jobs that change the device, resend for get, discover and read-acl.
   */
  onUnconfirmed: z.enum(['ask', 'verify', 'resend', 'drop']).optional(),
}).strict();

/** The engineer's decision on an unconfirmed job (`POST /jobs/{id}/decision`). */
export const JobDecisionBody = z.object({
  action: z.enum(['verify', 'resend', 'drop']),
  /** Send package #0 right away, so a queued decision goes out in the device's next session now. */
  notify: z.boolean().optional(),
}).strict();

/**
 * How to reach a device and what it must authenticate with (`PUT /devices/{devId}`): null goes back
 * to none (the lab default credentials). A notify URL is where the HTTP notifier posts package #0
 * (a virtual handset's, e.g. `dmw handset`'s `notifyUrl`).
 */
export const SetDeviceBody = z.object({
  notifyUrl: z.string().max(2048).refine((u) => {
    try {
      const url = new URL(u);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL').nullable().optional(),
  clientCred: z.object({ name: z.string().min(1).max(256), secret: z.string().min(1).max(1024) }).strict().nullable().optional(),
}).strict().refine((b) => b.notifyUrl !== undefined || b.clientCred !== undefined, 'give notifyUrl, clientCred or both');

export const JobsQuery = z.object({
  device: devId.optional(),
  status: z.enum(['queued', 'sent', 'done', 'failed', 'unconfirmed']).optional(),
}).strict();

export const ClearJobsQuery = z.object({ device: devId }).strict();

/** Events a subscriber may ask for (`types=job-done,alert`). */
export const STREAM_EVENT_TYPES = ['job-sent', 'job-done', 'job-unconfirmed', 'alert', 'session-started', 'session-ended', 'device-seen', 'notified', 'delegation'] as const;
export type StreamEventType = (typeof STREAM_EVENT_TYPES)[number];
export const _check: readonly (ServerEventType | 'delegation')[] = STREAM_EVENT_TYPES;

export const EventsQuery = z.object({
  device: devId.optional(),
  types: z.string().optional().transform((t, ctx) => {
    if (t === undefined || t === '') return undefined;
    const list = t.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = list.filter((x) => !(STREAM_EVENT_TYPES as readonly string[]).includes(x));
    if (bad.length > 0) {
      ctx.addIssue({ code: 'custom', message: `unknown event type(s) ${bad.join(', ')}; known: ${STREAM_EVENT_TYPES.join(', ')}` });
      return z.NEVER;
    }
    return list as StreamEventType[];
  }),
}).strict();

export const DevicesQuery = z.object({}).strict();

const Subtree = z.union([dmUri, z.object({ uri: dmUri, acl: z.string().min(1).max(4096).optional() }).strict()]);

export const DelegateBody = z.object({
  device: devId,
  peer: serverId,
  subtrees: z.array(Subtree).min(1, 'name at least one subtree to delegate').max(64),
  /** Rights the peer gets (with this server) on each subtree without its own `acl`. Default all five. */
  rights: z.array(z.enum(ACL_COMMANDS)).min(1).optional(),
  /** Ask the device to call now (package #0), so the delegation happens in its next session. */
  notify: z.boolean().optional(),
}).strict();

export const PeerDelegationBody = z.object({
  device: devId,
  /** The delegator's id for this delegation (for the completion notice). */
  delegationId: z.number().int().positive(),
  clientCred: z.object({
    name: z.string().min(1).max(256).refine((n) => !n.includes(':'), 'must not contain ":"'),
    secret: z.string().min(8, 'must be at least 8 characters').max(1024),
  }).strict(),
  subtrees: z.array(dmUri).min(1).max(64),
}).strict();

export const PeerDelegationNotice = z.object({
  status: z.enum(['active', 'failed']),
  error: z.string().max(4000).nullable().optional(),
}).strict();

export const GrantBody = z.object({
  peer: serverId,
  device: devId,
  subtrees: z.array(dmUri).min(1).max(64),
}).strict();

export const GrantQuery = z.object({ peer: serverId, device: devId }).strict();
