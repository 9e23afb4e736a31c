/**
 * Toasts, in a strip at the foot of the main area (in the layout, not over it: a toast never covers
 * a form or its Save button). Info notices go by themselves after INFO_NOTICE_MS; errors stay until
 * closed, and the same error again shows ×N instead of stacking.
 */
import { useApp } from '../hooks/store.js';

export function Notices() {
  const notices = useApp((s) => s.notices);
  const dismiss = useApp((s) => s.dismiss);
  if (notices.length === 0) return null;
  return (
    <div className="notices" role="status" aria-live="polite" data-testid="notices">
      {notices.map((n) => (
        <div key={n.id} className={`notice notice-${n.kind}`} data-notice={n.kind} role={n.kind === 'error' ? 'alert' : undefined}>
          <span className="grow">{n.text}{(n.count ?? 1) > 1 && <span className="muted small" data-testid="notice-count"> ×{n.count}</span>}</span>
          {n.kind === 'error' && (
            <button onClick={() => dismiss(n.id)} aria-label="Close" title="Close">Close</button>
          )}
        </div>
      ))}
    </div>
  );
}
