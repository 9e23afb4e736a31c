/**
 * GET /api/v1/packets?filter=&offset=&limit=&sort=&desc=: the packet list over HTTP, the same query
 * as the app's packets.query (main/api/packets-view.ts): messages across sessions matching a display
 * filter (main/store/filter/), read from the store's message index.
 *
 * 200 `{total, rows: PacketRow[], tookMs}`; a bad filter is 400 `invalid` on field `filter`, with the
 * 0-based `position` and `length` of what is wrong in it. The operator's only: rows name devices.
 */
import { z } from 'zod';
import { MAX_FILTER_LENGTH, MAX_PACKET_ROWS, PACKET_SORT_COLUMNS } from '../../api/contract-packets.js';
import { queryPackets } from '../../api/packets-view.js';
import type { DmStore } from '../../store/store.js';
import { ApiError } from './errors.js';
import type { Route } from './router.js';

const PacketsQuery = z.object({
  filter: z.string().max(MAX_FILTER_LENGTH).default(''),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(MAX_PACKET_ROWS).default(200),
  sort: z.enum(PACKET_SORT_COLUMNS).optional(),
  desc: z.enum(['true', 'false', '1', '0']).optional(),
}).strict();

export function packetRoutes(store: DmStore): Route[] {
  return [
    {
      method: 'GET', path: '/packets',
      handler: async (c) => {
        if (c.principal.kind !== 'operator') throw new ApiError(403, 'forbidden', `the packet list is for this server's operator (--api-token), not for peer ${c.principal.id}`, 'authorization');
        const q = c.q(PacketsQuery);
        const r = await queryPackets(store, {
          filter: q.filter, offset: q.offset, limit: q.limit,
          ...(q.sort ? { sort: { column: q.sort, desc: q.desc === 'true' || q.desc === '1' } } : {}),
        });
        if (!r.ok) {
          const message = `filter: ${r.error.message} (at character ${r.error.position})`;
          return { status: 400, json: { error: { status: 400, code: 'invalid', message, field: 'filter', position: r.error.position, length: r.error.length } } };
        }
        return { status: 200, json: { total: r.total, rows: r.rows, tookMs: r.tookMs } };
      },
    },
  ];
}
