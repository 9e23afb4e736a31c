/**
 * An app in another process talking to a virtual handset's loopback app interface
 * (main/client/apps/http.ts) with the bearer token it was given: JSON in, status and JSON out.
 */
import type { ClientAppServer } from '../../main/client/index.js';

export function appCall(local: Pick<ClientAppServer, 'url' | 'token'>) {
  return async (method: string, route: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const res = await fetch(`${local.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${local.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as any };
  };
}
