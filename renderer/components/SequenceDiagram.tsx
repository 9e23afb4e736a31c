import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useCallback, useEffect, useRef } from 'react';
import type { FindingView, MessageSummary } from '../../main/api/contract.js';
import { MessageFindingMark } from './Findings.js';
import { failedStatusText, statusesOfMessage, statusesTooltip } from './status-text.js';

const ROW = 44;
/** Rows beyond the 420 px viewport (about 10 rows) on each side: each is laid out and painted as it comes in. */
const OVERSCAN = 3;
/** A row is a fixed box placed by transform: nothing in it can change another row's layout. */
const CONTAIN = 'strict';

function label(m: MessageSummary): string {
  const kinds: string[] = [];
  for (const c of m.commands) {
    if (c.depth > 0) continue;
    const k = c.kind === 'Alert' ? c.summary.split(' ').slice(0, 2).join(' ') : c.kind;
    if (kinds[kinds.length - 1] !== k) kinds.push(k);
  }
  const shown = kinds.slice(0, 6).join(', ') + (kinds.length > 6 ? ', …' : '');
  return shown || (m.error ? 'undecodable' : 'empty');
}

/**
 * The session as a sequence diagram: a client lane and a server lane, one arrow per logged message
 * (client→server for requests, server→client for answers), virtualized so 10k messages scroll.
 */
export function SequenceDiagram({ messages, selectedId, onSelect, findings, onRange }: {
  messages: MessageSummary[]; selectedId: number | null; onSelect: (id: number) => void;
  /** Expert findings by message seq: each message's mark (worst severity, how many). */
  findings?: ReadonlyMap<number, FindingView[]>;
  /** The rows on screen changed: messages[first .. last] (a long session fetches their commands). */
  onRange?: (first: number, last: number) => void;
}) {
  const parent = useRef<HTMLDivElement>(null);
  // One callback for every row, whatever the caller passes: rows are memoized on it.
  const onSelectRef = useRef(onSelect);
  onSelectRef.current = onSelect;
  const select = useCallback((id: number) => onSelectRef.current(id), []);
  const v = useVirtualizer({ count: messages.length, getScrollElement: () => parent.current, estimateSize: () => ROW, overscan: OVERSCAN });
  const items = v.getVirtualItems();
  const first = items[0]?.index ?? -1;
  const last = items[items.length - 1]?.index ?? -1;
  useEffect(() => {
    if (onRange && first >= 0) onRange(first, last);
  }, [first, last, onRange]);
  // A message selected from elsewhere (the packet list) is brought into view once the messages are there.
  const selectedIndex = selectedId === null ? -1 : messages.findIndex((m) => m.id === selectedId);
  const scrolledTo = useRef<number | null>(null);
  useEffect(() => {
    if (selectedIndex < 0 || scrolledTo.current === selectedId) return;
    scrolledTo.current = selectedId;
    if (selectedIndex < first || selectedIndex > last || first < 0) v.scrollToIndex(selectedIndex, { align: 'center' });
  }, [selectedIndex, selectedId, first, last, v]);
  return (
    <div className="seq" aria-label="Sequence diagram">
      <div className="seq-lanes">
        <span>Client (device)</span>
        <span>Server</span>
      </div>
      <div className="seq-scroll" ref={parent} data-testid="seq-scroll">
        <div style={{ height: v.getTotalSize(), position: 'relative' }}>
          {items.map((it) => {
            const m = messages[it.index]!;
            return <SeqRow key={m.id} m={m} top={it.start} selected={m.id === selectedId} findings={findings?.get(m.seq)} onSelect={select} />;
          })}
        </div>
      </div>
    </div>
  );
}

/** One message's arrow; memoized, so scrolling and a window of commands arriving re-render only the rows that changed. */
const SeqRow = memo(function SeqRow({ m, top, selected, findings, onSelect }: {
  m: MessageSummary; top: number; selected: boolean; findings: FindingView[] | undefined; onSelect: (id: number) => void;
}) {
  const toServer = m.direction === 'in';
  const bad = m.error !== null || (m.httpStatus !== null && m.httpStatus >= 400);
  const statuses = statusesOfMessage(m);
  const failed = failedStatusText(statuses);
  return (
    <div
      className={`seq-row${selected ? ' selected' : ''}${bad ? ' bad' : ''}`}
      style={{ transform: `translateY(${top}px)`, height: ROW, contain: CONTAIN }}
      onClick={() => onSelect(m.id)}
      data-message={m.id}
      data-direction={m.direction}
      role="button"
      tabIndex={0}
      onKeyDown={(e) => e.key === 'Enter' && onSelect(m.id)}
    >
      <span className="seq-time">{`+${m.offsetMs} ms`}</span>
      <span className="seq-lane-line left" />
      <span className={`seq-arrow ${toServer ? 'to-server' : 'to-client'}`}>
        <span className="seq-label" title={statusesTooltip(statuses)}>
          <MessageFindingMark findings={findings} />
          {/* One text node each (interpolated JSX would make one per piece). */}
          <b>{`${toServer ? '▶' : '◀'} #${m.seq}`}</b>{` MsgID ${m.msgId ?? '?'} · ${m.size} B · ${label(m)}`}
          {failed && <span className="bad" data-testid="seq-status"> · {failed}</span>}
          {m.final === false && <i> (more)</i>}
          {m.durationMs !== null && <span className="muted"> · server {Math.round(m.durationMs)} ms</span>}
          {m.note && <span className="warn-text"> ⚑</span>}
        </span>
      </span>
      <span className="seq-lane-line right" />
    </div>
  );
});
