/**
 * The judge's findings for the Sessions view: a session's findings (the same list as
 * `dmw session check --json`), per-session counts by severity for the session list, and a rule's
 * explanation. Judging reads every message of a session, so it happens on demand and is cached:
 *
 *  - Findings and counts are cached per session under a key of the session's message count and the
 *    device's DevDetail/URI limits. A logged message never changes, so the key changes exactly when
 *    a live session logs another message (or the server learns new URI limits): then it is judged again.
 *  - The session list asks for counts of the rows it shows (a bounded batch per call), never for all
 *    sessions at once; counts stay cached (a small record each, up to MAX_COUNTED sessions), full
 *    findings only for the last MAX_FINDINGS sessions opened.
 */
import { exampleXml } from '../judge/example-kit.js';
import { parseXml } from '../protocol/xml/parse.js';
import { serializeXml } from '../protocol/xml/serialize.js';
import { checkLoggedSession, countBySeverity, RULE_BY_ID, uriLimitsFromTree, type Finding, type Severity, type UriLimits } from '../judge/index.js';
import type { MessageRecord, SessionRecord } from '../store/types.js';
import { MAX_FINDING_COUNT_IDS } from './contract.js';
import type { DecodeCache } from './session-view.js';

/** Sessions whose findings are kept whole (the ones being looked at). */
export const MAX_FINDINGS = 8;
/** Sessions whose counts are kept (a few numbers each). */
export const MAX_COUNTED = 20_000;
/** Most sessions one counts call judges (the UI asks for the rows it shows, in batches). */
export const MAX_COUNT_BATCH = MAX_FINDING_COUNT_IDS;
/**
 * Longest a counts call judges before it lets the event loop run: the DM server shares this process
 * (`npm run serve`, the utilityProcess), and 200 sessions took about 0.6 s to judge in one go.
 */
export const COUNT_SLICE_MS = 20;
/**
 * Longest session judged in the app. The judge runs in the backend's process, beside the DM server,
 * and its time grows faster than the message count (a made-up 1,000-message session with 3,600
 * findings took 1.8 s, 4,000 messages 12 s): longer sessions say so and are left to `dmw session check`.
 */
export const MAX_JUDGED_MESSAGES = 1000;

export type SeverityCounts = Record<Severity, number> & {
  /** Set when the session was not judged (too long for the app), with why and what to run instead. */
  skipped?: string;
};

export interface SessionFindings {
  session: number;
  findings: Finding[];
  counts: SeverityCounts;
  /** The number of logged messages judged. */
  messages: number;
  /** Why the session was not judged (null: it was). */
  skipped: string | null;
}

/** What the cache reads: the store's session, messages and a few tree values (DmStore fits, on SQLite and PostgreSQL). */
export interface FindingsSource {
  session(id: number): Promise<SessionRecord | undefined>;
  messages(sessionId: number): Promise<MessageRecord[]>;
  treeValues(device: string, uris: readonly string[]): Promise<{ uri: string; data: string | null }[]>;
}

/** The DevDetail/URI nodes whose values are the judge's URI limits (uriLimitsFromTree). */
const LIMIT_URIS = ['./DevDetail/URI/MaxDepth', './DevDetail/URI/MaxTotLen', './DevDetail/URI/MaxSegLen'];

/**
 * The device's URI limits, from their three nodes alone: a device's cached tree may hold 100k
 * nodes, and reading them all for three took 1.3 s on every findings ask (the Sessions view asks
 * for the rows it shows), with the DM server waiting in the same process.
 */
async function deviceUriLimits(src: FindingsSource, device: string): Promise<UriLimits> {
  return uriLimitsFromTree(await src.treeValues(device, LIMIT_URIS));
}

export class UnknownSessionError extends Error {
  constructor(readonly id: number) {
    super(`no session ${id}`);
  }
}

interface Counted {
  key: string;
  counts: SeverityCounts;
}

export class FindingsCache {
  private readonly full = new Map<number, { key: string; value: SessionFindings }>();
  private readonly counted = new Map<number, Counted>();
  /** How many sessions were judged (tests and the bench read it: a cache hit judges nothing). */
  judged = 0;

  constructor(
    private readonly source: () => FindingsSource,
    private readonly decode?: DecodeCache,
    private readonly maxMessages = MAX_JUDGED_MESSAGES,
    /** Told every judgement (the packet list keeps findings per message in the store's index). */
    private readonly onJudged?: (value: SessionFindings) => void,
  ) {}

  /** Forget everything (the data folder changed). */
  clear(): void {
    this.full.clear();
    this.counted.clear();
  }

  /** The session's findings, judged now unless the cached ones are for the same messages. */
  async findings(id: number): Promise<SessionFindings> {
    const src = this.source();
    const s = await src.session(id);
    if (!s) throw new UnknownSessionError(id);
    const limitsMemo = new Map<string, string>();
    const key = await this.keyOf(src, s, limitsMemo);
    const hit = this.full.get(id);
    if (hit && hit.key === key) return hit.value;
    const value = await this.judge(src, s);
    this.full.delete(id);
    this.full.set(id, { key, value });
    if (this.full.size > MAX_FINDINGS) this.full.delete(this.full.keys().next().value!);
    this.remember(id, { key, counts: value.counts });
    return value;
  }

  /**
   * Counts by severity for these sessions (unknown ids left out), judging only those not cached
   * for their current messages. At most MAX_COUNT_BATCH ids per call (the contract bounds it too);
   * it yields to the event loop every COUNT_SLICE_MS of judging.
   */
  async counts(ids: readonly number[], now: () => number = () => performance.now()): Promise<Record<number, SeverityCounts>> {
    if (ids.length > MAX_COUNT_BATCH) throw new Error(`ids: at most ${MAX_COUNT_BATCH} sessions per call, got ${ids.length}`);
    const src = this.source();
    const out: Record<number, SeverityCounts> = {};
    const limitsMemo = new Map<string, string>();
    let sliceStart = now();
    for (const id of new Set(ids)) {
      if (now() - sliceStart >= COUNT_SLICE_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        // The data folder was switched meanwhile: these ids are the other folder's sessions.
        if (this.source() !== src) throw new Error('the data folder changed while counting findings; ask again');
        sliceStart = now();
      }
      const s = await src.session(id);
      if (!s) continue;
      const key = await this.keyOf(src, s, limitsMemo);
      const hit = this.counted.get(id);
      if (hit && hit.key === key) {
        out[id] = hit.counts;
        continue;
      }
      const full = this.full.get(id);
      const counts = full && full.key === key ? full.value.counts : (await this.judge(src, s)).counts;
      this.remember(id, { key, counts });
      out[id] = counts;
    }
    return out;
  }

  private remember(id: number, c: Counted): void {
    this.counted.delete(id);
    this.counted.set(id, c);
    if (this.counted.size > MAX_COUNTED) this.counted.delete(this.counted.keys().next().value!);
  }

  /** Message count and URI limits: what the findings depend on besides bytes that never change. */
  private async keyOf(src: FindingsSource, s: SessionRecord, memo: Map<string, string>): Promise<string> {
    // Too long to judge here: nothing but its length decides what it says.
    if ((s.messageCount ?? 0) > this.maxMessages) return `${s.messageCount ?? -1}|not judged`;
    let limits = '';
    if (s.device) {
      limits = memo.get(s.device) ?? JSON.stringify(await deviceUriLimits(src, s.device));
      memo.set(s.device, limits);
    }
    return `${s.messageCount ?? -1}|${limits}`;
  }

  private async judge(src: FindingsSource, s: SessionRecord): Promise<SessionFindings> {
    const value = await this.judgeNow(src, s);
    this.onJudged?.(value);
    return value;
  }

  private async judgeNow(src: FindingsSource, s: SessionRecord): Promise<SessionFindings> {
    const count = s.messageCount ?? 0;
    if (count > this.maxMessages) {
      const skipped = `${count} messages: longer than the app judges (${this.maxMessages}); run dmw session check ${s.id} --data DIR`;
      return { session: s.id, findings: [], counts: { error: 0, warning: 0, note: 0, skipped }, messages: count, skipped };
    }
    this.judged++;
    const records = await src.messages(s.id);
    const uriLimits = s.device ? await deviceUriLimits(src, s.device) : {};
    const decode = this.decode;
    const logged = records.map((r) => {
      const message = decode?.get(r);
      return { direction: r.direction, bytes: r.bytes, seq: r.seq, contentType: r.contentType, ...(message ? { message } : {}) };
    });
    // The fields of `dmw session check --json`, in its order, and nothing else.
    const findings = checkLoggedSession(logged, { uriLimits }).map(({ severity, rule, clause, msg, path, text }) => ({ severity, rule, clause, msg, path, text }));
    return { session: s.id, findings, counts: countBySeverity(findings), messages: records.length, skipped: null };
  }
}

export interface RuleExplanation {
  id: string;
  severity: Severity;
  clause: string;
  text: string;
  /** A session that keeps the rule and one that breaks it, message by message. */
  good: { from: 'client' | 'server'; xml: string }[];
  bad: { from: 'client' | 'server'; xml: string }[];
}

/** A rule from the catalogue with its examples as XML, for the rule explanation in the UI. */
export function explainRule(id: string): RuleExplanation | null {
  const r = RULE_BY_ID.get(id);
  if (!r) return null;
  const view = (ex: typeof r.good) => {
    const xml = exampleXml(ex);
    return ex.map((m, i) => ({ from: m.from, xml: pretty(xml[i]!) }));
  };
  return { id: r.id, severity: r.severity, clause: r.clause, text: r.text, good: view(r.good), bad: view(r.bad) };
}

/** Indented for reading; an example that is not XML at all (a rule about undecodable messages) as it is. */
function pretty(xml: string): string {
  const doc = parseXml(xml);
  return doc.ok ? serializeXml(doc.value, { pretty: true }) : xml;
}
