/**
 * GET /api/v1/auth-failures: what the DM server refused before devices authenticated (recent
 * entries, counts per kind), what is throttled now, and the session pools (README "Limits before
 * authentication"). The operator's only: it shows source addresses and credential names.
 */
import type { DmServer } from '../server.js';
import { ApiError } from './errors.js';
import type { Route } from './router.js';

export function authFailureRoutes(server: DmServer): Route[] {
  return [
    {
      method: 'GET', path: '/auth-failures',
      handler: (c) => {
        if (c.principal.kind !== 'operator') throw new ApiError(403, 'forbidden', `authentication failures are for this server's operator (--api-token), not for peer ${c.principal.id}`, 'authorization');
        const unknown = Object.keys(c.query)[0];
        if (unknown !== undefined) throw new ApiError(400, 'invalid', `unknown query parameter "${unknown}"`, unknown);
        return { status: 200, json: server.authFailures() };
      },
    },
  ];
}
