/**
 * Field: one labelled input whose error is shown right next to it, checked as the user types, so a
 * form never needs a toast to say what is wrong with what was typed.
 *
 * Props (FieldProps):
 * - `label`        visible label (also the input's accessible name).
 * - `value`        the text in the input (controlled; keep numbers as text in the draft so "2.5" or
 *                  "" can be shown and explained instead of silently coerced).
 * - `onChange(t)`  the new text, on every keystroke.
 * - `validate?(t)` pure check: returns why `t` is not acceptable (one short sentence), or null.
 *                  Runs on every render, i.e. as the user types.
 * - `error?`       an error from outside (e.g. the backend refused the value on Save); shown when
 *                  `validate` finds nothing. Pass null/undefined for none.
 * - `hint?`        muted help text under the input, shown while there is no error.
 * - `type?`        input type (default "text"). Prefer "text" + `inputMode="numeric"` for integers:
 *                  a number input hides what was typed ("2.5", "1e3") from `value`.
 * - `inputMode?`, `placeholder?`, `disabled?`, `mono?` (monospace input), `className?` (on the label),
 *   `title?`, `autoFocus?`.
 * - `list?`        id of a <datalist> with suggestions.
 * - `testId?`      data-testid of the input; the error gets `${testId}-error`.
 * - `children?`    rendered after the input in the same row (e.g. a unit or a button).
 *
 * The input gets `aria-invalid` and `aria-describedby` pointing at the error, so screen readers (and
 * tests) find the reason from the input.
 *
 * The pure checks (integerProblem, publicUrlProblem, certificateDevIdProblem, ...) live in
 * main/api/form-rules.ts, browser-safe, so the contract gives the same words at the boundary.
 *
 * To disable Save while anything is invalid, compute the errors in the form with the same pure checks
 * and use `hasErrors({...})` (below), e.g.:
 *   const errors = { port: checkPort(draft.port), url: checkUrl(draft.url) };
 *   <Field label="Port" value={draft.port} onChange={...} error={errors.port} />
 *   <button disabled={hasErrors(errors)}>Save</button>
 */
import { useId, type ReactNode } from 'react';
import { integerProblem } from '../../main/api/form-rules.js';

export interface FieldProps {
  label: string;
  value: string;
  onChange(text: string): void;
  validate?: (text: string) => string | null | undefined;
  error?: string | null;
  hint?: string;
  type?: 'text' | 'number' | 'password' | 'url' | 'search';
  inputMode?: 'text' | 'numeric' | 'decimal' | 'url';
  placeholder?: string;
  disabled?: boolean;
  mono?: boolean;
  className?: string;
  title?: string;
  autoFocus?: boolean;
  list?: string;
  testId?: string;
  children?: ReactNode;
}

export function Field(p: FieldProps) {
  const id = useId();
  const errId = `${id}-error`;
  const error = (p.validate?.(p.value) ?? null) || p.error || null;
  // A div with <label htmlFor>, not a wrapping <label>: a button passed as children must keep its
  // own name and not be labelled by the field.
  return (
    <div className={`field${error ? ' invalid' : ''}${p.className ? ` ${p.className}` : ''}`} title={p.title}>
      <label htmlFor={id}>{p.label}</label>
      <span className="row gap">
        <input
          id={id}
          type={p.type ?? 'text'}
          inputMode={p.inputMode}
          value={p.value}
          placeholder={p.placeholder}
          disabled={p.disabled}
          autoFocus={p.autoFocus}
          list={p.list}
          className={`${p.mono ? 'mono ' : ''}grow`}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? errId : undefined}
          data-testid={p.testId}
          onChange={(e) => p.onChange(e.target.value)}
        />
        {p.children}
      </span>
      {error ? (
        <span className="field-error" id={errId} role="alert" data-testid={p.testId ? `${p.testId}-error` : undefined}>{error}</span>
      ) : p.hint ? (
        <span className="field-hint muted small">{p.hint}</span>
      ) : null}
    </div>
  );
}

/** True when any entry is a non-empty error string (for a Save button's `disabled`). */
export function hasErrors(errors: Record<string, string | null | undefined>): boolean {
  return Object.values(errors).some((e) => typeof e === 'string' && e !== '');
}

/** Why `text` is not a whole number in min..max, or null (main/api/form-rules.ts, shared with the contract). */
export const checkInteger = integerProblem;
