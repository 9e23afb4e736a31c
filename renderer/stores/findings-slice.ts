/**
 * The judge's findings in the Sessions view: the open session's findings (beside each message), the
 * per-session counts for the session list, the severity filters, and the rule being explained.
 *
 * Counts are asked for by the rows the list shows (and, while "errors only" is on, by the whole list
 * in batches): the backend judges a session on the first ask and caches it, so listing sessions
 * judges nothing. A count is kept with the message count it was judged at; a live session that
 * logs another message asks again.
 */
import type {
  DmwApi, FindingView, RuleExplanationView, SessionFindingsView, SessionSummary, SeverityCountsView,
} from '../../main/api/contract.js';
import { MAX_FINDING_COUNT_IDS } from '../../main/api/contract.js';

export type SeverityName = FindingView['severity'];
/** Most severe first: the order of badges, filters and lists. */
export const SEVERITY_ORDER: readonly SeverityName[] = ['error', 'warning', 'note'];
const RANK: Record<SeverityName, number> = { error: 3, warning: 2, note: 1 };

export interface CountEntry {
  /** The session's message count when it was judged. */
  messages: number;
  counts: SeverityCountsView;
}

export interface FindingsSlice {
  /** The open session's findings (null until loaded; another session's are dropped on select). */
  sessionFindings: SessionFindingsView | null;
  findingCounts: Record<number, CountEntry>;
  /** Messages shown: all (null), or only those with a finding of at least this severity. */
  findingFloor: SeverityName | null;
  /** The session list shows only sessions with an error finding. */
  errorsOnly: boolean;
  /** The rule explained (the dialog), or null; `ruleLoading` names the one being fetched. */
  ruleExplained: RuleExplanationView | null;
  ruleLoading: string | null;
  loadFindings(sessionId: number): Promise<void>;
  /** Counts for these sessions where missing or older than their message count (batched, one ask at a time per session). */
  loadFindingCounts(sessions: readonly SessionSummary[]): Promise<void>;
  setFindingFloor(floor: SeverityName | null): void;
  setErrorsOnly(on: boolean): void;
  explainRule(id: string | null): Promise<void>;
}

type Guard = <T>(what: string, fn: () => Promise<T>) => Promise<T | undefined>;

export function createFindingsSlice<S extends FindingsSlice>(api: DmwApi, set: (p: Partial<S>) => void, get: () => S, guard: Guard): FindingsSlice {
  /** Sessions whose counts are being fetched, with the message count asked for. */
  const asking = new Map<number, number>();
  /** The session whose findings were asked for last: an older answer arriving late is dropped. */
  let lastAsked: number | null = null;
  return {
    sessionFindings: null,
    findingCounts: {},
    findingFloor: null,
    errorsOnly: false,
    ruleExplained: null,
    ruleLoading: null,
    loadFindings: async (sessionId) => {
      lastAsked = sessionId;
      if (get().sessionFindings?.session !== sessionId) set({ sessionFindings: null } as Partial<S>);
      const f = await guard('findings', () => api['sessions.findings']({ id: sessionId }));
      if (!f || lastAsked !== sessionId) return;
      set({ sessionFindings: f, findingCounts: { ...get().findingCounts, [sessionId]: { messages: f.messages, counts: f.counts } } } as Partial<S>);
    },
    loadFindingCounts: async (sessions) => {
      const have = get().findingCounts;
      const want = sessions.filter((s) => (have[s.id]?.messages ?? -1) < s.messageCount && (asking.get(s.id) ?? -1) < s.messageCount);
      for (let i = 0; i < want.length; i += MAX_FINDING_COUNT_IDS) {
        const batch = want.slice(i, i + MAX_FINDING_COUNT_IDS);
        for (const s of batch) asking.set(s.id, s.messageCount);
        const r = await guard('finding counts', () => api['sessions.findingCounts']({ ids: batch.map((s) => s.id) }));
        const next = { ...get().findingCounts };
        for (const s of batch) {
          if (asking.get(s.id) === s.messageCount) asking.delete(s.id);
          const c = r?.[String(s.id)];
          if (c) next[s.id] = { messages: s.messageCount, counts: c };
        }
        set({ findingCounts: next } as Partial<S>);
        if (!r) return;
      }
    },
    setFindingFloor: (findingFloor) => set({ findingFloor } as Partial<S>),
    setErrorsOnly: (errorsOnly) => set({ errorsOnly } as Partial<S>),
    explainRule: async (id) => {
      if (id === null) {
        set({ ruleExplained: null, ruleLoading: null } as Partial<S>);
        return;
      }
      set({ ruleLoading: id } as Partial<S>);
      const r = await guard(`rule ${id}`, () => api['judge.rule']({ id }));
      if (get().ruleLoading !== id) return;
      set({ ruleExplained: r ?? null, ruleLoading: null } as Partial<S>);
    },
  };
}

/** At least as severe as the floor. */
export function atLeast(s: SeverityName, floor: SeverityName): boolean {
  return RANK[s] >= RANK[floor];
}

/** The most severe of these findings (null: none). */
export function worst(findings: readonly FindingView[]): SeverityName | null {
  let w: SeverityName | null = null;
  for (const f of findings) if (w === null || RANK[f.severity] > RANK[w]) w = f.severity;
  return w;
}

/** The open session's findings by message seq (what `msg` numbers). */
export function findingsBySeq(f: SessionFindingsView | null): Map<number, FindingView[]> {
  const out = new Map<number, FindingView[]>();
  for (const x of f?.findings ?? []) {
    const list = out.get(x.msg);
    if (list) list.push(x);
    else out.set(x.msg, [x]);
  }
  return out;
}

/**
 * Sessions with an error finding, for the "errors only" filter; `unjudged` counts those whose
 * counts are not in yet for their current messages (they are left out until they are).
 */
export function sessionsWithErrors(sessions: readonly SessionSummary[], counts: Record<number, CountEntry>): { shown: SessionSummary[]; unjudged: number } {
  const shown: SessionSummary[] = [];
  let unjudged = 0;
  for (const s of sessions) {
    const c = counts[s.id];
    if (!c || c.messages < s.messageCount) unjudged++;
    if (c && c.counts.error > 0) shown.push(s);
  }
  return { shown, unjudged };
}

/** "2 errors", "1 warning", "3 notes". */
export function severityText(s: SeverityName, n: number): string {
  return `${n} ${s}${n === 1 ? '' : 's'}`;
}
