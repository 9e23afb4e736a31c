/**
 * GET /api/v1/sessions/{id}/findings: the session's expert findings (main/judge), the same JSON as
 * `dmw session check ID --json`: `{session, findings: [{severity, rule, clause, msg, path, text}]}`.
 * The operator's only: findings quote what devices sent (URIs, names), across every device.
 * Judged on each request from the log, as the CLI does (the desktop app's cache is main/api/findings-view.ts).
 */
import { checkLoggedSession, uriLimitsFromTree } from '../../judge/index.js';
import type { DmStore } from '../../store/store.js';
import { ApiError } from './errors.js';
import type { Route } from './router.js';

/**
 * Longest session judged here: the judge runs in the DM server's process and its time grows faster
 * than the message count (4,000 made-up messages took 12 s), so longer sessions are refused with
 * what to run instead (`dmw session check` judges in its own process). The app's bound is the same
 * (main/api/findings-view.ts MAX_JUDGED_MESSAGES).
 */
export const MAX_API_JUDGED_MESSAGES = 1000;

/** The findings document of `dmw session check --json`, or undefined when there is no such session. */
export async function sessionFindingsJson(store: Pick<DmStore, 'session' | 'messages' | 'tree'>, id: number, maxMessages = MAX_API_JUDGED_MESSAGES) {
  const session = await store.session(id);
  if (!session) return undefined;
  const count = session.messageCount ?? 0;
  if (count > maxMessages) {
    throw new ApiError(413, 'too-large', `session ${id} has ${count} messages, more than the API judges (${maxMessages}); run dmw session check ${id} --data DIR on the server's data folder`, 'id');
  }
  const uriLimits = session.device ? uriLimitsFromTree(await store.tree(session.device)) : {};
  const findings = checkLoggedSession(await store.messages(id), { uriLimits }).map(({ severity, rule, clause, msg, path, text }) => ({ severity, rule, clause, msg, path, text }));
  return { session: id, findings };
}

export function sessionFindingRoutes(store: Pick<DmStore, 'session' | 'messages' | 'tree'>, maxMessages = MAX_API_JUDGED_MESSAGES): Route[] {
  return [
    {
      method: 'GET', path: '/sessions/:id/findings',
      handler: async (c) => {
        if (c.principal.kind !== 'operator') throw new ApiError(403, 'forbidden', `session findings are for this server's operator (--api-token), not for peer ${c.principal.id}`, 'authorization');
        const raw = c.params[0]!;
        if (!/^[1-9]\d{0,15}$/.test(raw)) throw new ApiError(400, 'invalid', `id must be a positive integer, got "${raw}"`, 'id');
        const unknown = Object.keys(c.query)[0];
        if (unknown !== undefined) throw new ApiError(400, 'invalid', `unknown query parameter "${unknown}"`, unknown);
        const doc = await sessionFindingsJson(store, Number(raw), maxMessages);
        if (!doc) throw new ApiError(404, 'not-found', `no session ${raw} on this server`, 'id');
        return { status: 200, json: doc };
      },
    },
  ];
}
