/**
 * Where package #0 reaches virtual handsets over HTTP: one listener for any number of handsets,
 * `POST /notify/<DevId>` with `application/vnd.syncml.notification` (what the server's HttpNotifier
 * sends). The answer goes out before the session starts: 200 accepted, 400 malformed, 401 digest
 * refused, 404 unknown handset or ServerID, 413 too big, 415 wrong media type, 503 stopped.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PACKAGE0_MEDIA_TYPE } from '../notify/package0.js';
import type { NotificationOutcome, VirtualHandset } from './handset.js';
import { mediaType, readBody } from '../protocol/http-body.js';

/** A package #0 is 24 bytes plus the ServerID and vendor data; anything this big is not one. */
const MAX_PACKAGE0_BYTES = 64 * 1024;

export class NotificationListener {
  private readonly handsets = new Map<string, VirtualHandset>();

  private constructor(
    private readonly server: http.Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(opts: { host?: string; port?: number; onNotification?: (devId: string, o: NotificationOutcome) => void } = {}): Promise<NotificationListener> {
    const host = opts.host ?? '127.0.0.1';
    let self: NotificationListener | undefined;
    const server = http.createServer((req, res) => {
      const reply = (status: number, text: string) => {
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`${text}\n`);
      };
      const m = /^\/notify\/([^/?]+)$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m) {
        req.resume();
        return reply(req.method !== 'POST' ? 405 : 404, 'POST package #0 to /notify/<DevId>');
      }
      let devId: string;
      try {
        devId = decodeURIComponent(m[1]!);
      } catch {
        req.resume();
        return reply(404, 'bad DevId in the path');
      }
      const ct = mediaType(req.headers['content-type']);
      readBody(req, MAX_PACKAGE0_BYTES).then(({ bytes, over }) => {
        if (over) return reply(413, `package #0 over ${MAX_PACKAGE0_BYTES} bytes`);
        if (ct !== PACKAGE0_MEDIA_TYPE) return reply(415, `send ${PACKAGE0_MEDIA_TYPE}`);
        const h = self?.handsets.get(devId);
        if (!h) return reply(404, `no handset ${devId} here`);
        const o = h.notify(bytes);
        opts.onNotification?.(devId, o);
        reply(o.httpStatus, o.accepted ? `accepted: session ${o.sessionId} with ${o.serverId}` : o.reason);
      }, () => undefined); // the sender went away: nobody to answer
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    self = new NotificationListener(server, host, (server.address() as AddressInfo).port);
    return self;
  }

  /** The URL package #0 for `devId` goes to. */
  urlFor(devId: string): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host === '0.0.0.0' ? '127.0.0.1' : this.host;
    return `http://${host}:${this.port}/notify/${encodeURIComponent(devId)}`;
  }

  /** Serves `handset` from now on; sets its notifyUrl. */
  register(handset: VirtualHandset): string {
    const url = this.urlFor(handset.devId);
    this.handsets.set(handset.devId, handset);
    handset.notifyUrl = url;
    return url;
  }

  unregister(devId: string): void {
    const h = this.handsets.get(devId);
    if (h) h.notifyUrl = undefined;
    this.handsets.delete(devId);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
