/**
 * Reading an HTTP request's body and naming its media type, the same way on every listener we run:
 * the DM server and its management API, and on the handset side the package #0 listener and the
 * client apps' interface.
 */
import type http from 'node:http';

/** `Application/JSON; charset=utf-8` -> `application/json`; the first value of a repeated header. */
export function mediaType(contentType: string | string[] | undefined): string {
  return ((Array.isArray(contentType) ? contentType[0] : contentType) ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Most bytes drained (and dropped) after a body went over the limit, before the socket is cut. */
const DRAIN_CAP = 64 * 1024 * 1024;

/** What readBody brought: `refused` only when `admit` said no (then `bytes` is empty and `over` false). */
export interface BodyRead {
  bytes: Uint8Array;
  over: boolean;
  refused?: true;
}

/**
 * Reads the body up to `max` bytes. Past it, resolves at once with what was kept (the 413 goes out
 * now) and keeps draining in the background so the client gets to read that answer.
 *
 * `admit`, when given, is asked before each chunk (or the part of it under `max`) is kept, with its
 * size: a body of no declared length takes its share of a budget as it arrives. When it says no,
 * nothing more is kept: resolves at once with `refused` and no bytes, and drains as past `max`.
 * A part over `max` that was not admitted is left out of the over-limit bytes.
 *
 * The bytes are a plain Uint8Array that owns its whole ArrayBuffer (offset 0, nothing else in it),
 * so a caller may keep them or transfer `.buffer` without holding or exposing memory of other requests.
 */
export function readBody(req: http.IncomingMessage, max: number, admit?: (bytes: number) => boolean): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let stopped = false; // past max, or not admitted: nothing more is kept
    let drained = 0;
    req.on('data', (chunk: Buffer) => {
      if (stopped) {
        drained += chunk.length;
        if (drained > DRAIN_CAP) req.destroy();
        return;
      }
      if (size + chunk.length > max) {
        stopped = true;
        const room = max - size;
        if (room > 0 && (admit === undefined || admit(room))) {
          chunks.push(chunk.subarray(0, room));
          size = max;
        }
        resolve({ bytes: joined(chunks, size), over: true });
        return;
      }
      if (admit !== undefined && !admit(chunk.length)) {
        stopped = true;
        resolve({ bytes: new Uint8Array(), over: false, refused: true });
        return;
      }
      size += chunk.length;
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!stopped) resolve({ bytes: joined(chunks, size), over: false });
    });
    req.on('error', (e) => {
      if (!stopped) reject(e);
    });
  });
}

/**
 * The pieces as one array of `total` bytes, copied at most once. Node's HTTP parser hands each body
 * chunk over in a buffer of its own (a copy out of the socket's read buffer), so the usual DM message,
 * one chunk, is that chunk as it is; anything else (several chunks, or part of one) is copied once.
 */
function joined(pieces: readonly Uint8Array[], total: number): Uint8Array {
  if (pieces.length === 1) {
    const only = pieces[0]!;
    if (only.byteOffset === 0 && only.byteLength === only.buffer.byteLength) return new Uint8Array(only.buffer, 0, only.byteLength);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
