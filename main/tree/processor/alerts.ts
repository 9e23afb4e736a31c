/**
 * User-interaction alerts 1100-1104 (OMA DM Protocol 1.2 §10 "User interaction commands").
 *
 * Item 1 holds the options (`MINDT=10&MAXDT=30&DR=1&MAXLEN=20&IT=A&ET=T`), item 2 the text, items 3..
 * the choices (1103/1104). The client answers in the Alert's Status: 1100 -> 200; 1101 -> 200 "yes" or
 * 304 "no"; 1102 -> 200 with the text in an Item; 1103/1104 -> 200 with the chosen numbers (one Item
 * each); 214 when the user cancels (then processing stops: 215 for everything not yet executed);
 * 406 when the client has no UI; 408 when nobody answered in MAXDT.
 *
 * Responders are pluggable; three ship here:
 *  - defaultResponder: no human in the loop, answer with the Default Response (DR) as if the user had
 *    accepted it; without a DR, 406 (display alerts are simply "shown": 200);
 *  - noUiResponder: 406 for every UI alert except display (a headless client);
 *  - timeoutResponder: what the Android/Motorola DM engine does in its own tests (testoutput12): the
 *    user never answers, so 408, carrying the DR as the Status Items (1104's `1-3,6` split on '-').
 */

export type UiAlertCode = 1100 | 1101 | 1102 | 1103 | 1104;
export type UiAlertKind = 'display' | 'confirm' | 'input' | 'single-choice' | 'multiple-choice';

export const UI_ALERT_KIND: Readonly<Record<UiAlertCode, UiAlertKind>> = {
  1100: 'display',
  1101: 'confirm',
  1102: 'input',
  1103: 'single-choice',
  1104: 'multiple-choice',
};

export interface UiOptions {
  /** MINDT: minimum display time, seconds. */
  minDT?: number;
  /** MAXDT: how long to wait for the user, seconds. */
  maxDT?: number;
  /** DR: default response, as sent (not URL-decoded: the Android engine returns it verbatim). */
  dr?: string;
  /** MAXLEN: text input length limit. */
  maxLen?: number;
  /** IT: input type (A alphanumeric, N numeric, D date, T time, P phone, I IP address). */
  it?: string;
  /** ET: echo type (T text, P password). */
  et?: string;
  /** Options this client does not know (skipped silently, as the spec requires), in order. */
  other: Array<[string, string]>;
}

export interface UiAlert {
  code: UiAlertCode;
  kind: UiAlertKind;
  options: UiOptions;
  /** Item 2: the text shown to the user (the title for choices). */
  text: string;
  /** Items 3..: the choices, numbered from 1. */
  choices: string[];
  /** The server asking, and the Alert's CmdID (for a UI that shows who wants what). */
  serverId: string;
  cmdId: string;
  /** Inside an Atomic or Sequence: a 1101 "no" then fails the Atomic / bypasses the rest of the Sequence. */
  container?: 'Atomic' | 'Sequence';
}

export interface UiAnswer {
  /** 200, 304 (confirm: no), 214 (cancelled), 406 (no UI), 408 (timeout), ... */
  status: number;
  /** Status Items: the text typed, or the chosen numbers (one per Item). */
  data?: string[];
}

export type AlertResponder = (alert: UiAlert) => UiAnswer | Promise<UiAnswer>;

export interface UiAlertProblem {
  status: 400;
  message: string;
}

/** Parse `MAXDT=15&DR=1`: unknown keys kept in `other`; a malformed number is left out (skipped). */
export function parseUiOptions(text: string): UiOptions {
  const o: UiOptions = { other: [] };
  if (text.trim() === '') return o;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    const value = eq < 0 ? '' : part.slice(eq + 1);
    const num = /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined;
    switch (key.toUpperCase()) {
      case 'MINDT':
        if (num !== undefined) o.minDT = num;
        break;
      case 'MAXDT':
        if (num !== undefined) o.maxDT = num;
        break;
      case 'MAXLEN':
        if (num !== undefined) o.maxLen = num;
        break;
      case 'DR':
        o.dr = value;
        break;
      case 'IT':
        o.it = value;
        break;
      case 'ET':
        o.et = value;
        break;
      default:
        o.other.push([key, value]);
    }
  }
  return o;
}

/** Default-response choice numbers: DM separates multiple defaults with '-' (`DR=1-3`). */
export function splitDefaultChoices(dr: string): string[] {
  return dr.split('-').filter((s) => s !== '');
}

export const defaultResponder: AlertResponder = (a) => {
  switch (a.kind) {
    case 'display':
      return { status: 200 };
    case 'confirm':
      if (a.options.dr === '1') return { status: 200 };
      if (a.options.dr === '0') return { status: 304 };
      return { status: 406 };
    case 'input':
      if (a.options.dr === undefined) return { status: 406 };
      return { status: 200, data: [a.options.maxLen !== undefined ? a.options.dr.slice(0, a.options.maxLen) : a.options.dr] };
    case 'single-choice': {
      const n = a.options.dr === undefined ? NaN : Number(a.options.dr);
      if (!Number.isInteger(n) || n < 1 || n > a.choices.length) return { status: 406 };
      return { status: 200, data: [String(n)] };
    }
    case 'multiple-choice': {
      if (a.options.dr === undefined) return { status: 406 };
      const picks = splitDefaultChoices(a.options.dr).filter((s) => {
        const n = Number(s);
        return Number.isInteger(n) && n >= 1 && n <= a.choices.length;
      });
      return picks.length > 0 ? { status: 200, data: picks } : { status: 406 };
    }
  }
};

export const noUiResponder: AlertResponder = (a) => (a.kind === 'display' ? { status: 200 } : { status: 406 });

export const timeoutResponder: AlertResponder = (a) => {
  switch (a.kind) {
    case 'display':
      return { status: 200 };
    case 'confirm':
      return { status: 408 };
    case 'input':
    case 'single-choice':
      return a.options.dr === undefined ? { status: 408 } : { status: 408, data: [a.options.dr] };
    case 'multiple-choice':
      return a.options.dr === undefined ? { status: 408 } : { status: 408, data: splitDefaultChoices(a.options.dr) };
  }
};

/** Answers from a list, in order (tests and scripted lab runs); past its end, `fallback`. */
export function scriptedResponder(answers: UiAnswer[], fallback: AlertResponder = noUiResponder): AlertResponder {
  let i = 0;
  return (a) => (i < answers.length ? answers[i++]! : fallback(a));
}
