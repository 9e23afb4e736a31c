/**
 * The packet list (issue 18 point 1): every logged message across sessions, one row each, filtered
 * and sorted by the backend (`packets.query`), fetched a page at a time for the rows on screen.
 *
 * The list never holds all rows: `packetPages` keeps the pages fetched for the current filter and
 * sort (a generation number drops answers to an older query). A filter the backend refuses keeps the
 * previous result and sets `packetError` (position and length for the caret under the filter).
 * Live rows: the view calls `refreshPacketTail` when the server logs messages; sorted by time
 * ascending, the new rows are the tail (offset = known total), otherwise the pages are refetched.
 */
import type { DmwApi } from '../../main/api/contract.js';
import type { FilterErrorView, PacketField, PacketRow, PacketSortColumn } from '../../main/api/contract-packets.js';

/** Rows per packets.query call (the backend allows up to MAX_PACKET_ROWS). */
export const PACKET_PAGE = 200;
/** Pages kept: about 20k rows around what was looked at last. */
const MAX_PAGES = 100;

export interface PacketSort {
  column: PacketSortColumn;
  desc: boolean;
}

export interface PacketFilterError extends FilterErrorView {
  /** The filter text the error points into. */
  filter: string;
}

export interface PacketsSlice {
  /** The filter the rows are for ('' = every message). */
  packetFilter: string;
  packetError: PacketFilterError | null;
  packetSort: PacketSort;
  /** Rows matching the filter (null until the first answer). */
  packetTotal: number | null;
  /** Fetched rows by page number (page p holds rows p*PACKET_PAGE ...). */
  packetPages: Record<number, PacketRow[]>;
  /** How long the backend took for the last query (ms). */
  packetTookMs: number | null;
  packetFields: PacketField[];
  /** Applies a filter: on success the list starts over with its rows; a syntax error keeps the old ones. */
  applyPacketFilter(filter: string): Promise<boolean>;
  /** Sort by a column; the same column again flips the direction. */
  sortPackets(column: PacketSortColumn): Promise<void>;
  /** Fetches the pages covering rows [from, to) that are not there yet. */
  ensurePackets(from: number, to: number): Promise<void>;
  /** New messages were logged: learn the new total and rows. */
  refreshPacketTail(): Promise<void>;
  loadPacketFields(): Promise<void>;
  /** Opens the row's message in the Sessions view (its session, the message selected). */
  openPacket(row: Pick<PacketRow, 'id' | 'sessionId'>): void;
}

type Guard = <T>(what: string, fn: () => Promise<T>) => Promise<T | undefined>;

/** What the slice needs of the rest of the store to open a message in the Sessions view. */
interface Host {
  view: string;
  selectedSessionId: number | null;
  selectMessage(id: number | null): Promise<void>;
  loadSessionDetail(): Promise<void>;
}

export function createPacketsSlice<S extends PacketsSlice & Host>(api: DmwApi, set: (p: Partial<S>) => void, get: () => S, guard: Guard): PacketsSlice {
  /** Bumped by every new filter or sort: answers for an older one are dropped. */
  let generation = 0;
  /** Pages being fetched for the current generation. */
  const inFlight = new Set<number>();
  let tailBusy = false;
  let tailAgain = false;

  const query = (filter: string, offset: number, limit: number, sort: PacketSort) =>
    guard('packets', () => api['packets.query']({ filter, offset, limit, sort }));

  /** Keeps at most MAX_PAGES pages, dropping those farthest from `near`. */
  const trimmed = (pages: Record<number, PacketRow[]>, near: number): Record<number, PacketRow[]> => {
    const keys = Object.keys(pages).map(Number);
    if (keys.length <= MAX_PAGES) return pages;
    keys.sort((a, b) => Math.abs(a - near) - Math.abs(b - near));
    const out: Record<number, PacketRow[]> = {};
    for (const k of keys.slice(0, MAX_PAGES)) out[k] = pages[k]!;
    return out;
  };

  /** Runs a first-page query for filter and sort; replaces the list when it succeeds. */
  const restart = async (filter: string, sort: PacketSort): Promise<boolean> => {
    const gen = ++generation;
    const r = await query(filter, 0, PACKET_PAGE, sort);
    if (!r || gen !== generation) return false;
    if (!r.ok) {
      set({ packetError: { ...r.error, filter } } as Partial<S>);
      return false;
    }
    inFlight.clear();
    set({ packetFilter: filter, packetSort: sort, packetError: null, packetTotal: r.total, packetPages: { 0: r.rows } as Record<number, PacketRow[]>, packetTookMs: r.tookMs } as Partial<S>);
    return true;
  };

  return {
    packetFilter: '',
    packetError: null,
    packetSort: { column: 'time', desc: false },
    packetTotal: null,
    packetPages: {},
    packetTookMs: null,
    packetFields: [],

    applyPacketFilter: (filter) => restart(filter.trim(), get().packetSort),

    sortPackets: async (column) => {
      const cur = get().packetSort;
      await restart(get().packetFilter, { column, desc: cur.column === column ? !cur.desc : false });
    },

    ensurePackets: async (from, to) => {
      const total = get().packetTotal;
      if (total === null || total === 0) return;
      const first = Math.floor(Math.max(0, from) / PACKET_PAGE);
      const last = Math.floor(Math.max(0, Math.min(to, total) - 1) / PACKET_PAGE);
      const gen = generation;
      const { packetFilter: filter, packetSort: sort } = get();
      const wanted: number[] = [];
      // A page shorter than it should be (rows were logged after it came) is fetched again.
      const complete = (p: number) => (get().packetPages[p]?.length ?? -1) >= Math.min(PACKET_PAGE, total - p * PACKET_PAGE);
      for (let p = first; p <= last; p++) if (!complete(p) && !inFlight.has(p)) wanted.push(p);
      await Promise.all(wanted.map(async (p) => {
        inFlight.add(p);
        const r = await query(filter, p * PACKET_PAGE, PACKET_PAGE, sort);
        if (gen !== generation) return;
        inFlight.delete(p);
        if (!r || !r.ok) return;
        set({ packetPages: trimmed({ ...get().packetPages, [p]: r.rows }, p), packetTotal: r.total, packetTookMs: r.tookMs } as Partial<S>);
      }));
    },

    refreshPacketTail: async () => {
      if (get().packetTotal === null) return;
      // One refresh at a time; messages logged meanwhile get one more round after it.
      if (tailBusy) {
        tailAgain = true;
        return;
      }
      tailBusy = true;
      try {
        do {
          tailAgain = false;
          const gen = generation;
          const { packetFilter: filter, packetSort: sort, packetTotal: known } = get();
          const timeAsc = sort.column === 'time' && !sort.desc;
          // Sorted by time ascending, new messages are the tail; any other order moves rows around.
          const offset = timeAsc ? (known ?? 0) : 0;
          const r = await query(filter, offset, PACKET_PAGE, sort);
          if (!r || !r.ok || gen !== generation) return;
          if (timeAsc && r.total >= (known ?? 0)) {
            const pages = { ...get().packetPages };
            r.rows.forEach((row, i) => {
              const at = offset + i;
              const p = Math.floor(at / PACKET_PAGE);
              const page = pages[p];
              // Only a page that is there and complete up to this row is extended; others load when shown.
              if (page && page.length === at - p * PACKET_PAGE) pages[p] = [...page, row];
              else if (!page && at % PACKET_PAGE === 0) pages[p] = [row];
            });
            set({ packetTotal: r.total, packetPages: pages, packetTookMs: r.tookMs } as Partial<S>);
          } else {
            generation++;
            inFlight.clear();
            set({ packetTotal: r.total, packetPages: { 0: r.rows } as Record<number, PacketRow[]>, packetTookMs: r.tookMs } as Partial<S>);
          }
        } while (tailAgain);
      } finally {
        tailBusy = false;
      }
    },

    loadPacketFields: async () => {
      if (get().packetFields.length > 0) return;
      const r = await guard('filter fields', () => api['packets.fields']({}));
      if (r) set({ packetFields: r.fields } as Partial<S>);
    },

    openPacket: (row) => {
      set({ view: 'sessions', selectedSessionId: row.sessionId, sessionDetail: null, selectedMessageId: null } as unknown as Partial<S>);
      void get().selectMessage(row.id);
      void get().loadSessionDetail();
    },
  };
}

/** The row at `index`, if its page is fetched. */
export function packetAt(pages: Record<number, PacketRow[]>, index: number): PacketRow | undefined {
  return pages[Math.floor(index / PACKET_PAGE)]?.[index % PACKET_PAGE];
}

/** How a row is coloured: an auth challenge (401/407), another failure (>= 300), or nothing. */
export function packetTone(row: Pick<PacketRow, 'worst' | 'status'>): 'auth' | 'fail' | null {
  if (/(^|\s)(401|407)(×|\s|$)/.test(row.status)) return 'auth';
  return row.worst !== null && row.worst >= 300 ? 'fail' : null;
}
