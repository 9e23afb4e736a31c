/**
 * A value that may be huge (a 1 MB Replace): its head inline, never the whole text in a table cell,
 * with "show" (in a bounded, scrolling box) and "download" for the rest. Rendering a megabyte into a
 * table pushed the job queue's columns off-screen (issue 18 point 6 (5)).
 */
import { useState } from 'react';
import { downloadText } from '../hooks/download.js';

/** Characters shown inline before the value is cut. */
export const INLINE_CHARS = 120;

/** The head of a long text and how much was left out (pure, for labels built from values). */
export function clip(text: string, max = INLINE_CHARS): { head: string; cut: number } {
  return text.length <= max ? { head: text, cut: 0 } : { head: text.slice(0, max), cut: text.length - max };
}

export function sizeText(chars: number): string {
  if (chars < 1024) return `${chars} characters`;
  if (chars < 1024 * 1024) return `${(chars / 1024).toFixed(1)} KiB`;
  return `${(chars / 1024 / 1024).toFixed(1)} MiB`;
}

export function LongValue({ text, fileName = 'value.txt', max = INLINE_CHARS, prefix = '' }: { text: string; fileName?: string; max?: number; prefix?: string }) {
  const [open, setOpen] = useState(false);
  const { head, cut } = clip(text, max);
  if (cut === 0) return <span className="mono wrap">{prefix}{text}</span>;
  return (
    <span className="long-value" data-testid="long-value">
      <span className="mono wrap">{prefix}{head}…</span>{' '}
      <span className="muted small" data-testid="long-value-size">({sizeText(text.length)} in all)</span>{' '}
      <button type="button" className="link" onClick={() => setOpen(!open)} data-testid="long-value-show">{open ? 'hide' : 'show all'}</button>
      <button type="button" className="link" onClick={() => downloadText(fileName, text, 'text/plain')} data-testid="long-value-download">download</button>
      {open && (
        <pre className="mono small" data-testid="long-value-full" style={{ maxHeight: 240, maxWidth: '100%', overflow: 'auto', whiteSpace: 'pre-wrap', wordBreak: 'break-all', margin: '4px 0' }}>
          {text}
        </pre>
      )}
    </span>
  );
}
