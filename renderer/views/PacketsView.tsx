/**
 * The packet list (issue 18 points 1-2): one row per logged message across every session, filtered
 * and sorted in the backend (packets.query), virtualized and fetched a page at a time so 100k rows
 * scroll like 100. New messages (the server's `message` events, as the session list counts them)
 * bring their rows; while the list is at its bottom it follows them, and scrolling up stops that.
 * Clicking a row opens the message in the Sessions view.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useCallback, useEffect, useRef, useState } from 'react';
import type { PacketRow, PacketSortColumn } from '../../main/api/contract-packets.js';
import { PacketFilterBar } from '../components/PacketFilterBar.js';
import { statusSummaryTooltip } from '../components/status-text.js';
import { useApp, useAppShallow } from '../hooks/store.js';
import { packetAt, packetTone } from '../stores/packets-slice.js';
import './packets.css';

const ROW = 24;
/** Rows rendered beyond the viewport on each side: each one is laid out and painted every time it comes in. */
const OVERSCAN = 4;
/**
 * A fling (or a dragged scrollbar thumb): more than this many pixels between two scroll events, twice
 * in a row (one jump, e.g. to the bottom when following, is not a fling). Rows that come in then are
 * drawn in a light form (one text node) and get their cells once the list has been still this long.
 */
const FLING_PX = 10 * ROW;
const SETTLE_MS = 120;

const COLUMNS: { label: string; sort?: PacketSortColumn; title?: string }[] = [
  { label: 'Time', sort: 'time' },
  { label: 'Session', sort: 'session' },
  { label: 'Device', sort: 'device' },
  { label: 'Dir', sort: 'dir', title: '→ client to server, ← server to client' },
  { label: 'MsgID', sort: 'msgId' },
  { label: 'Size', sort: 'size' },
  { label: 'Enc', sort: 'enc' },
  { label: 'Commands' },
  { label: 'Status', sort: 'status' },
  { label: 'Findings', sort: 'findings' },
];

function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** The sum of the sessions' message counts: it moves whenever the server logs a message. */
function loggedCount(s: { sessions: { messageCount: number }[] }): number {
  let n = 0;
  for (const x of s.sessions) n += x.messageCount;
  return n;
}

export function PacketsView() {
  const { filter, error, sort, total, pages, tookMs, fields } = useAppShallow((s) => ({
    filter: s.packetFilter, error: s.packetError, sort: s.packetSort, total: s.packetTotal, pages: s.packetPages, tookMs: s.packetTookMs, fields: s.packetFields,
  }));
  const apply = useApp((s) => s.applyPacketFilter);
  const sortBy = useApp((s) => s.sortPackets);
  const ensure = useApp((s) => s.ensurePackets);
  const refreshTail = useApp((s) => s.refreshPacketTail);
  const loadFields = useApp((s) => s.loadPacketFields);
  const open = useApp((s) => s.openPacket);
  const logged = useApp(loggedCount);
  const [follow, setFollow] = useState(true);
  const count = total ?? 0;

  // First visit: every message; coming back: what was logged meanwhile.
  useEffect(() => {
    if (total === null) void apply(filter);
    else void refreshTail();
    void loadFields();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  // Live rows: the server logged messages (the session list's counts moved).
  const seenLogged = useRef(logged);
  useEffect(() => {
    if (logged === seenLogged.current) return;
    seenLogged.current = logged;
    void refreshTail();
  }, [logged, refreshTail]);
  const following = follow && sort.column === 'time' && !sort.desc;

  return (
    <div className="view packets-view">
      <header className="view-head">
        <h1>Packets</h1>
        <span className="muted" data-testid="packet-count">
          {total === null ? 'loading…' : `${total.toLocaleString('en')} message${total === 1 ? '' : 's'}${filter ? ' match' : ''}`}
          {tookMs !== null && ` · ${Math.round(tookMs)} ms`}
        </span>
      </header>
      <div className="pad" style={{ display: 'flex', flexDirection: 'column', flex: 1, minHeight: 0 }}>
        <PacketFilterBar applied={filter} error={error} fields={fields} onApply={(f) => void apply(f)} />
        <div className="pk-table" role="table" aria-label="Packet list" aria-rowcount={count}>
          <div className="pk-cols pk-head" role="row">
            {COLUMNS.map((c) => c.sort ? (
              <button
                key={c.label}
                role="columnheader"
                onClick={() => void sortBy(c.sort!)}
                title={c.title ?? `Sort by ${c.label.toLowerCase()}`}
                aria-sort={sort.column === c.sort ? (sort.desc ? 'descending' : 'ascending') : 'none'}
                data-sort={c.sort}
              >
                {c.label}{sort.column === c.sort ? (sort.desc ? ' ▼' : ' ▲') : ''}
              </button>
            ) : <span key={c.label} role="columnheader">{c.label}</span>)}
          </div>
          <PacketBody count={count} pages={pages} ensure={ensure} open={open} following={following} setFollow={setFollow} empty={total === 0 ? (filter ? 'No message matches this filter.' : 'No messages logged yet.') : null} />
        </div>
        <div className="pk-foot">
          {sort.column === 'time' && !sort.desc
            ? following
              ? <span className="muted" data-testid="following">following new messages</span>
              : <button onClick={() => setFollow(true)} data-testid="follow">Follow new messages ↓</button>
            : <span className="muted">sorted by {sort.column}{sort.desc ? ' (descending)' : ''}; new messages take their place in that order</span>}
          <span className="muted">Rows coloured: <span className="pk-legend tone-fail">status ≥ 300</span> · <span className="pk-legend tone-auth">auth challenge (401/407)</span>. Click a row to open it in its session.</span>
        </div>
      </div>
    </div>
  );
}

/**
 * The scrolling rows, a component of their own: the virtualizer re-renders what calls it on every
 * scroll event, and that should be the rows, not the filter bar and the headers above them.
 */
const PacketBody = memo(function PacketBody({ count, pages, ensure, open, following, setFollow, empty }: {
  count: number;
  pages: Record<number, PacketRow[]>;
  ensure: (from: number, to: number) => Promise<void>;
  open: (row: PacketRow) => void;
  following: boolean;
  setFollow: (f: boolean) => void;
  empty: string | null;
}) {
  const parent = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({ count, getScrollElement: () => parent.current, estimateSize: () => ROW, overscan: OVERSCAN, isScrollingResetDelay: SETTLE_MS });
  const items = v.getVirtualItems();
  const firstShown = items[0]?.index ?? 0;
  const lastShown = items[items.length - 1]?.index ?? 0;
  // The rows on screen (and a margin) are fetched.
  useEffect(() => {
    if (count > 0) void ensure(firstShown, lastShown + 1);
  }, [firstShown, lastShown, count, pages, ensure]);
  useEffect(() => {
    if (following && count > 0) v.scrollToIndex(count - 1, { align: 'end' });
  }, [following, count, v]);
  // Following stops when the list moves up (only the user does that: following only scrolls down)
  // and starts again when it is back at the bottom.
  const lastTop = useRef(0);
  // Consecutive scroll events that moved more than FLING_PX; read while rendering the rows (React's
  // scroll handler runs before the virtualizer's, whose re-render draws the rows).
  const fastEvents = useRef(0);
  const onScroll = useCallback(() => {
    const el = parent.current;
    if (!el) return;
    fastEvents.current = Math.abs(el.scrollTop - lastTop.current) > FLING_PX ? fastEvents.current + 1 : 0;
    const up = el.scrollTop < lastTop.current - 1;
    lastTop.current = el.scrollTop;
    // The content's height is known (count × ROW): reading scrollHeight could force a layout mid-scroll.
    const atBottom = el.scrollTop + el.clientHeight >= count * ROW - ROW * 1.5;
    if (up && !atBottom) setFollow(false);
    else if (atBottom) setFollow(true);
  }, [setFollow, count]);
  // The virtualizer's isScrolling ends SETTLE_MS after the last scroll event: the light rows get their cells.
  const lite = v.isScrolling && fastEvents.current >= 2;
  return (
    <div className="pk-scroll" ref={parent} onScroll={onScroll} data-testid="packet-list">
      <div style={{ height: v.getTotalSize(), position: 'relative' }}>
        {items.map((it) => {
          const row = packetAt(pages, it.index);
          return row
            ? <PacketLine key={row.id} row={row} top={it.start} onOpen={open} lite={lite} />
            // Keyed apart from the rows (a row's key is its message id, a number like an index): a
            // shared key would leave a stale row behind, out of view.
            : <div key={`loading-${it.index}`} className="pk-row pk-cols loading" style={{ transform: `translateY(${it.start}px)` }} data-loading><span>…</span></div>;
        })}
      </div>
      {empty && <p className="muted pad">{empty}</p>}
    </div>
  );
});

/**
 * One row; memoized (keyed by the message's id) so scrolling renders only the rows that come into
 * view. Kept cheap to lay out and paint, since a fast scroll brings a screenful of new rows every
 * frame: one element per cell holding one text node (strings built here, not interpolated JSX,
 * which would make several text nodes), tooltips only where a cell can be cut short, and the
 * findings cell empty unless there are findings.
 */
const PacketLine = memo(function PacketLine({ row, top, onOpen, lite }: { row: PacketRow; top: number; onOpen: (row: PacketRow) => void; lite: boolean }) {
  // A row that came in during a fling stays light until the list settles; a row once full stays full.
  const [full, setFull] = useState(!lite);
  if (!full && !lite) setFull(true);
  const tone = packetTone(row);
  if (!full && lite) {
    // One element, one text node: the row's place, height and tone, its main fields in one run.
    return (
      <div
        className={tone ? `pk-row pk-lite tone-${tone}` : 'pk-row pk-lite'}
        style={{ transform: `translateY(${top}px)` }}
        onClick={() => onOpen(row)}
        data-packet={row.id}
        data-lite=""
      >
        {`${clock(row.at)}  #${row.sessionId}.${row.seq}  ${row.devId}  ${row.dir === 'in' ? '→' : '←'}  ${row.commands}  ${row.status}`}
      </div>
    );
  }
  const f = row.findings;
  const any = f.error + f.warning + f.note > 0;
  return (
    <div
      className={tone ? `pk-row pk-cols tone-${tone}` : 'pk-row pk-cols'}
      style={{ transform: `translateY(${top}px)` }}
      onClick={() => onOpen(row)}
      onKeyDown={(e) => e.key === 'Enter' && onOpen(row)}
      role="row"
      tabIndex={0}
      data-packet={row.id}
      data-session={row.sessionId}
      data-dir={row.dir}
      data-tone={tone ?? 'none'}
      data-worst={row.worst ?? ''}
    >
      <span>{clock(row.at)}</span>
      <span>{`#${row.sessionId}.${row.seq}`}</span>
      <span className="pk-cut" title={row.devId}>{row.devId}</span>
      <span className={row.dir === 'in' ? 'pk-dir-in' : 'pk-dir-out'}>{row.dir === 'in' ? '→' : '←'}</span>
      <span>{row.msgId ?? '—'}</span>
      <span>{String(row.size)}</span>
      <span>{row.enc || '?'}</span>
      <span className={row.commands ? 'pk-cut' : 'pk-cut muted'} title={row.commands}>{row.commands || 'none'}</span>
      <span className="pk-cut" title={statusSummaryTooltip(row.status)}>{row.status || '—'}</span>
      <span className="pk-find" aria-label={any ? `findings: ${f.error} errors, ${f.warning} warnings, ${f.note} notes` : undefined}>
        {f.error > 0 && <span className="badge sev sev-error" data-severity="error">{`✖ ${f.error}`}</span>}
        {f.warning > 0 && <span className="badge sev sev-warning" data-severity="warning">{`▲ ${f.warning}`}</span>}
        {f.note > 0 && <span className="badge sev sev-note" data-severity="note">{`● ${f.note}`}</span>}
      </span>
    </div>
  );
});
