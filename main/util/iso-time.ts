/**
 * Instants as the ISO 8601 text every stored and reported time takes (`2026-12-07T15:52:24.000Z`),
 * for the store, the server and the virtual clients alike (so it imports nothing).
 *
 * Formatting a Date costs far more than comparing two numbers, and the same instant is formatted
 * again and again: one DM message stamps its turn's `now` on the device row, its jobs and tree
 * rows, with the request's and the answer's own times in between (all three usually within a
 * millisecond or two), and a busy handset pool stamps many events within one millisecond. So the
 * text of the last instants is kept, one slot per value of the instant's last two bits: the few
 * consecutive milliseconds a round trip spans never push each other out.
 */
const SLOTS = 4;
const slotMs: number[] = new Array<number>(SLOTS).fill(Number.NaN);
const slotText: string[] = new Array<string>(SLOTS).fill('');

/** `ms` (milliseconds since the epoch) as ISO 8601 text in UTC, with milliseconds. */
export function iso(ms: number = Date.now()): string {
  const slot = ms & (SLOTS - 1);
  if (slotMs[slot] !== ms) {
    // Formatted before it is kept: an instant out of range throws and leaves the slot as it was.
    slotText[slot] = new Date(ms).toISOString();
    slotMs[slot] = ms;
  }
  return slotText[slot]!;
}

/** A Date (as a database driver hands one back) as iso() formats its instant. */
export function isoOfDate(d: Date): string {
  return iso(d.getTime());
}
