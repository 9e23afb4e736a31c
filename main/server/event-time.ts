/**
 * A time as the server's events carry it (the DM endpoint's and the API's). A request's events
 * mostly share one or two instants (the request's arrival, now), and requests arriving together
 * share them too: the last two texts are kept.
 */
export function iso(ms: number): string {
  if (ms === isoLast.ms) return isoLast.text;
  if (ms === isoPrev.ms) return isoPrev.text;
  isoPrev = isoLast;
  isoLast = { ms, text: new Date(ms).toISOString() };
  return isoLast.text;
}

let isoLast = { ms: Number.NaN, text: '' };
let isoPrev = { ms: Number.NaN, text: '' };
