import { statusMeaning, statusTooltip } from '../../main/protocol/status-codes.js';

const TONES: Record<string, string> = {
  active: 'live', 'in-session': 'live', sent: 'live', queued: 'wait', held: 'wait', idle: 'quiet', unconfirmed: 'warn',
  done: 'ok', completed: 'ok', failed: 'bad', aborted: 'warn', timeout: 'warn', interrupted: 'warn', rejected: 'bad',
};

export function Badge({ value, title }: { value: string; title?: string | undefined }) {
  return (
    <span className={`badge tone-${TONES[value] ?? 'quiet'}`} title={title} data-badge={value}>
      {value}
    </span>
  );
}

/**
 * A DM status code coloured by class (2xx ok, 4xx/5xx bad), with its meaning from the one table
 * (main/protocol/status-codes.ts): the short name beside the code unless `bare`, the class and a
 * sentence in the tooltip.
 */
export function StatusCode({ code, bare = false }: { code: string | number | null | undefined; bare?: boolean }) {
  if (code === null || code === undefined) return <span className="muted">—</span>;
  const n = Number(code);
  const tone = n >= 200 && n < 300 ? 'ok' : n >= 400 ? 'bad' : 'warn';
  const meaning = statusMeaning(code)?.meaning;
  return (
    <span className={`code tone-${tone}`} title={statusTooltip(code)} data-status-code={String(code)}>
      {code}{!bare && <span className="status-meaning" style={{ fontWeight: 400 }}> {meaning ?? '(undefined code)'}</span>}
    </span>
  );
}

export function timeOf(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleTimeString(undefined, { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return new Date(iso).toLocaleDateString();
}
