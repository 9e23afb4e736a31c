/** The discovered tree (what devices answered to Gets, as of when) and the alerts devices sent, in the SQLite store. */
import type { AlertRecord, TreeEntry } from '../types.js';
import { iso } from '../../util/iso-time.js';
import type { Statements } from './statements.js';

/** Rows per tree upsert statement (7 parameters each, well under SQLite's parameter limit). */
const TREE_ROWS_PER_STATEMENT = 64;

export class TreeTable {
  constructor(private readonly st: Statements) {}

  upsertTree(device: string, entries: Omit<TreeEntry, 'fetchedAt'>[], now: number): void {
    const at = iso(now);
    // Many rows per statement: a package 1 alone brings five DevInfo leaves.
    for (let i = 0; i < entries.length; i += TREE_ROWS_PER_STATEMENT) {
      const part = entries.slice(i, i + TREE_ROWS_PER_STATEMENT);
      const args: unknown[] = [];
      for (const e of part) args.push(device, normaliseUri(e.uri), e.format, e.type, e.data, e.encoding ?? null, at);
      this.st.shaped(`tree/${part.length}`, () => `INSERT INTO tree (device, uri, format, type, data, encoding, fetched_at) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}
        ON CONFLICT (device, uri) DO UPDATE SET format = COALESCE(excluded.format, format), type = COALESCE(excluded.type, type),
        data = COALESCE(excluded.data, data), encoding = COALESCE(excluded.encoding, encoding), fetched_at = excluded.fetched_at`).run(...args);
    }
  }

  /** Forgets a node and everything under it (the device said 2xx to a Delete of it). */
  removeTree(device: string, uri: string): void {
    const u = normaliseUri(uri);
    this.st.sql("DELETE FROM tree WHERE device = ? AND (uri = ? OR substr(uri, 1, length(?) + 1) = ? || '/')").run(device, u, u, u);
  }

  tree(device: string): TreeEntry[] {
    return (this.st.sql('SELECT * FROM tree WHERE device = ? ORDER BY uri').all(device) as { uri: string; format: string | null; type: string | null; data: string | null; encoding: string | null; fetched_at: string }[])
      .map((r) => ({ uri: r.uri, format: r.format, type: r.type, data: r.data, fetchedAt: r.fetched_at, ...(r.encoding === 'b64' ? { encoding: 'b64' as const } : {}) }));
  }

  addAlert(device: string, sessionId: number | null, alert: AlertRecord, now: number): void {
    this.st.sql('INSERT INTO alerts (session_id, device, code, correlator, items, at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(sessionId, device, alert.code, alert.correlator ?? null, JSON.stringify(alert.items), iso(now));
  }

  alerts(device: string): (AlertRecord & { at: string; sessionId: number | null })[] {
    return (this.st.sql('SELECT * FROM alerts WHERE device = ? ORDER BY id').all(device) as { code: string; correlator: string | null; items: string; at: string; session_id: number | null }[])
      .map((r) => ({ code: r.code, items: JSON.parse(r.items), at: r.at, sessionId: r.session_id, ...(r.correlator ? { correlator: r.correlator } : {}) }));
  }
}

/** `DevInfo/Mod` and `./DevInfo/Mod` are the same node. */
function normaliseUri(uri: string): string {
  if (uri === '.' || uri.startsWith('./')) return uri;
  return `./${uri}`;
}
