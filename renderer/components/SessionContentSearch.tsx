import { useState } from 'react';
import type { FilterErrorView } from '../../main/api/contract-packets.js';
import { useApi } from '../hooks/store.js';
import { caretLine } from './PacketFilterBar.js';
import { asFilter } from './content-filter.js';

/**
 * The Sessions view's content search: a display filter over what the sessions' messages hold
 * (`data contains "de-DE"`, `uri contains "FwUpdate" && status >= 400`), run in the backend on the
 * message index like the Packets view's filter bar; the list then shows only the sessions with a
 * matching message. A plain word without an operator is read as `data contains "word" || uri
 * contains "word"`. A bad filter is pointed at its character.
 */
export function SessionContentSearch({ onResult }: { onResult: (ids: ReadonlySet<number> | null) => void }) {
  const api = useApi();
  const [draft, setDraft] = useState('');
  const [state, setState] = useState<{ applied: string; count: number; truncated: boolean } | null>(null);
  const [error, setError] = useState<(FilterErrorView & { filter: string }) | null>(null);

  const apply = async (text: string) => {
    const filter = asFilter(text);
    if (filter === '') {
      setState(null);
      setError(null);
      onResult(null);
      return;
    }
    const r = await api['sessions.search']({ filter });
    if (!r.ok) {
      setError({ ...r.error, filter });
      return;
    }
    setError(null);
    setState({ applied: filter, count: r.ids.length, truncated: r.truncated });
    onResult(new Set(r.ids));
  };

  return (
    <div className="content-search">
      <input
        type="search"
        className={`mono${error ? ' invalid' : ''}`}
        spellCheck={false}
        placeholder={'Content: data contains "de-DE"   (Enter)'}
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') void apply(draft);
        }}
        aria-label="Search message content"
        aria-invalid={error ? true : undefined}
        data-testid="content-search"
      />
      {state && !error && (
        <div className="muted small" data-testid="content-search-result">
          {state.count}{state.truncated ? '+' : ''} session(s) with a message matching <code>{state.applied}</code>{' '}
          <button className="link" onClick={() => { setDraft(''); void apply(''); }}>clear</button>
        </div>
      )}
      {error && (
        <div role="alert" data-testid="content-search-error">
          <pre className="pk-caret mono">{error.filter}{'\n'}<span>{caretLine(error.position, error.length)}</span></pre>
          <div className="bad small">{error.message} (at character {error.position + 1})</div>
        </div>
      )}
    </div>
  );
}
