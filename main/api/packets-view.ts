/**
 * The packet list's handlers (contract-packets.ts): packets.query and packets.fields.
 * First cut: every message, newest last, no filter yet (the filter language lands next).
 */
import type { ServerStore } from '../store/server-store.js';
import type { PacketField, PacketRow, PacketsQueryInput, PacketsQueryOutput } from './contract-packets.js';

export function queryPackets(store: ServerStore, q: PacketsQueryInput): PacketsQueryOutput {
  const t0 = performance.now();
  const total = (store.db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n;
  const rows = store.db.prepare(`SELECT m.id, m.session_id, m.seq, m.at, m.direction, m.msg_id, length(m.bytes) AS size, s.device, s.encoding
    FROM messages m JOIN sessions s ON s.id = m.session_id ORDER BY m.id LIMIT ? OFFSET ?`).all(q.limit, q.offset) as {
    id: number; session_id: number; seq: number; at: string; direction: 'in' | 'out'; msg_id: string | null; size: number; device: string | null; encoding: string | null;
  }[];
  const out: PacketRow[] = rows.map((r) => ({
    id: r.id, sessionId: r.session_id, seq: r.seq, at: Date.parse(r.at), devId: r.device ?? '', dir: r.direction, msgId: r.msg_id, size: r.size,
    enc: r.encoding ?? '', commands: '', status: '', worst: null, findings: { error: 0, warning: 0, note: 0 },
  }));
  return { ok: true, total, rows: out, tookMs: performance.now() - t0 };
}

export function packetFields(): { fields: PacketField[] } {
  return { fields: [] };
}
