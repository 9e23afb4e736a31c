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

/**
 * Reads the body up to `max` bytes. Past it, resolves at once with what was kept (the 413 goes out
 * now) and keeps draining in the background so the client gets to read that answer.
 */
export function readBody(req: http.IncomingMessage, max: number): Promise<{ bytes: Uint8Array; over: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    let drained = 0;
    req.on('data', (chunk: Buffer) => {
      if (over) {
        drained += chunk.length;
        if (drained > DRAIN_CAP) req.destroy();
        return;
      }
      if (size + chunk.length > max) {
        over = true;
        const room = max - size;
        if (room > 0) chunks.push(chunk.subarray(0, room));
        resolve({ bytes: new Uint8Array(Buffer.concat(chunks)), over: true });
        return;
      }
      size += chunk.length;
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve({ bytes: new Uint8Array(Buffer.concat(chunks)), over: false });
    });
    req.on('error', (e) => {
      if (!over) reject(e);
    });
  });
}
