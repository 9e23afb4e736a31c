import { useEffect, useState } from 'react';
import type { PacketField } from '../../main/api/contract-packets.js';
import type { PacketFilterError } from '../stores/packets-slice.js';

/** The caret line under a filter: `^` at the error's first character, `~` under the rest of it. */
export function caretLine(position: number, length: number): string {
  return `${' '.repeat(Math.max(0, position))}^${'~'.repeat(Math.max(0, length - 1))}`;
}

/**
 * The display filter bar: Enter applies what is typed; a filter the backend refuses is shown again
 * with a caret under the character it stumbled on (the list keeps its previous rows meanwhile).
 * The field list (packets.fields) opens beside it; a field clicked there is added to the filter.
 */
export function PacketFilterBar({ applied, error, fields, onApply, busy }: {
  applied: string;
  error: PacketFilterError | null;
  fields: readonly PacketField[];
  onApply: (filter: string) => void;
  busy?: boolean;
}) {
  const [draft, setDraft] = useState(applied);
  const [help, setHelp] = useState(false);
  // Another filter applied from elsewhere (or the first load) shows in the box.
  useEffect(() => setDraft(applied), [applied]);
  const pending = draft.trim() !== applied;
  return (
    <div className="pk-filter">
      <div className="row gap">
        <input
          className={`pk-filter-input mono${error ? ' invalid' : pending ? ' pending' : applied ? ' active' : ''}`}
          type="text"
          spellCheck={false}
          placeholder={'Display filter, e.g. cmd == "Replace" && status >= 400   (Enter applies)'}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') onApply(draft);
            else if (e.key === 'Escape') setDraft(applied);
          }}
          aria-label="Display filter"
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'pk-filter-error' : undefined}
          data-testid="packet-filter"
        />
        <button onClick={() => onApply(draft)} disabled={busy}>Apply</button>
        {applied && <button onClick={() => onApply('')} title="Show every message">Clear</button>}
        <button onClick={() => setHelp(!help)} aria-expanded={help} data-testid="filter-help-toggle">Fields</button>
      </div>
      {error && (
        <div className="pk-filter-error" id="pk-filter-error" role="alert" data-testid="filter-error" data-position={error.position} data-length={error.length}>
          <pre className="pk-caret mono">{error.filter}{'\n'}<span data-testid="filter-caret">{caretLine(error.position, error.length)}</span></pre>
          <div className="bad small">{error.message} (at character {error.position + 1}); the list still shows {applied ? <>“{applied}”</> : 'every message'}.</div>
        </div>
      )}
      {help && (
        <div className="pk-fields" data-testid="filter-fields">
          <p className="muted small">Operators: <code>== != &lt; &lt;= &gt; &gt;= contains matches</code>, <code>&amp;&amp; || !</code> and parentheses. Click a field to add it.</p>
          <table className="grid compact">
            <tbody>
              {fields.map((f) => (
                <tr key={f.name} className="clickable" onClick={() => setDraft(`${draft}${draft && !draft.endsWith(' ') ? ' ' : ''}${f.name} `)}>
                  <td className="mono"><b>{f.name}</b></td><td className="muted small">{f.type}</td><td className="small">{f.help}</td>
                </tr>
              ))}
              {fields.length === 0 && <tr><td className="muted">Loading…</td></tr>}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
