/**
 * A round-robin load balancer on 127.0.0.1 for the multi-instance tests (issue 16): what HAProxy
 * with `balance roundrobin` does in front of several `dmw server` instances, small enough to read.
 *
 * Why per request and not per connection: the virtual handset (main/client/transport.ts) keeps its
 * connection alive across a session's messages, so a per-connection balancer would send a whole
 * session to one instance and prove nothing about shared session state. In 'request' mode (the
 * default) the proxy reads HTTP/1.1 framing (Content-Length; a chunked or close-delimited answer
 * too), sends each request over a new connection to the next backend, and hands the answer back on
 * the client's connection: consecutive messages of one session alternate between instances, which
 * is what the tests assert from `stats()`. 'connection' mode is the plain TCP round robin (a new
 * client connection goes to the next backend, bytes piped unchanged).
 *
 * A backend that refuses the connection (killed, restarting) is skipped for the next one; only
 * when every backend refuses does the client get a 502. A backend that dies after taking a request
 * but before answering in full closes the client's connection, as a real balancer would: the
 * device sees a broken exchange and sends again.
 */
import net from 'node:net';

export interface BackendStats {
  port: number;
  /** Connections the proxy opened to this backend. */
  connections: number;
  /** Requests it answered in full (request mode). */
  requests: number;
  /** Connections it refused (skipped). */
  refused: number;
}

export interface RoundRobinProxy {
  port: number;
  /** `http://127.0.0.1:<port><path>`. */
  url(path?: string): string;
  /** Replaces the backend at `index` (an instance restarted on a new port). */
  setBackend(index: number, port: number): void;
  stats(): BackendStats[];
  /** Backend index of every request answered, in order, with its path (request mode). */
  readonly routed: { backend: number; path: string }[];
  close(): Promise<void>;
}

export interface ProxyOptions {
  mode?: 'request' | 'connection';
  /** Largest request or answer kept in memory (default 32 MiB): a test bound, not a feature. */
  maxMessageBytes?: number;
  /** Per backend exchange (default 30 s). */
  timeoutMs?: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

export async function startRoundRobinProxy(backendPorts: number[], opts: ProxyOptions = {}): Promise<RoundRobinProxy> {
  const mode = opts.mode ?? 'request';
  const maxBytes = opts.maxMessageBytes ?? 32 * 1024 * 1024;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const backends: BackendStats[] = backendPorts.map((port) => ({ port, connections: 0, requests: 0, refused: 0 }));
  const routed: { backend: number; path: string }[] = [];
  const clients = new Set<net.Socket>();
  let next = 0;

  /** Connects to the next backend that accepts, trying each at most once. */
  async function connectNext(): Promise<{ socket: net.Socket; index: number } | undefined> {
    for (let tried = 0; tried < backends.length; tried++) {
      const index = next;
      next = (next + 1) % backends.length;
      const b = backends[index]!;
      const socket = await new Promise<net.Socket | undefined>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: b.port });
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(undefined));
      });
      if (socket) {
        b.connections++;
        return { socket, index };
      }
      b.refused++;
    }
    return undefined;
  }

  const server = net.createServer((client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    if (mode === 'connection') void pipeConnection(client);
    else serveRequests(client);
  });

  async function pipeConnection(client: net.Socket): Promise<void> {
    client.pause();
    const b = await connectNext();
    if (!b) {
      client.destroy();
      return;
    }
    b.socket.on('error', () => client.destroy());
    client.on('error', () => b.socket.destroy());
    client.pipe(b.socket).pipe(client);
    client.resume();
  }

  function serveRequests(client: net.Socket): void {
    let buf = Buffer.alloc(0);
    let busy = false;
    client.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > maxBytes) client.destroy();
      else void pump();
    });
    // One request at a time per client connection, in order (HTTP/1.1 answers in request order).
    async function pump(): Promise<void> {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          const req = takeRequest();
          if (!req) return;
          const ok = await forward(client, req.bytes, req.path);
          if (!ok) {
            client.destroy();
            return;
          }
        }
      } finally {
        busy = false;
      }
    }
    function takeRequest(): { bytes: Buffer; path: string } | undefined {
      const end = buf.indexOf(HEAD_END);
      if (end < 0) return undefined;
      const head = buf.subarray(0, end).toString('latin1');
      const path = head.split(' ', 2)[1] ?? '';
      if (/^transfer-encoding:\s*chunked/im.test(head)) {
        client.destroy(); // the handsets and the API clients of the tests send Content-Length
        return undefined;
      }
      const len = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
      const total = end + HEAD_END.length + len;
      if (buf.length < total) return undefined;
      const bytes = buf.subarray(0, total);
      buf = buf.subarray(total);
      return { bytes, path };
    }
  }

  /** One request to the next live backend; its whole answer back to the client. False: the exchange broke. */
  async function forward(client: net.Socket, request: Buffer, path: string): Promise<boolean> {
    const b = await connectNext();
    if (!b) {
      client.write('HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: 23\r\n\r\nno backend is listening');
      return true;
    }
    const answer = await new Promise<Buffer | undefined>((resolve) => {
      let got = Buffer.alloc(0);
      let done = false;
      const finish = (v: Buffer | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        b.socket.destroy();
        resolve(v);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      b.socket.on('data', (c: Buffer) => {
        got = Buffer.concat([got, c]);
        if (got.length > maxBytes) return finish(undefined);
        const whole = completeAnswer(got, false);
        if (whole !== undefined) finish(got.subarray(0, whole));
      });
      b.socket.on('end', () => finish(completeAnswer(got, true) !== undefined ? got : undefined));
      b.socket.on('error', () => finish(undefined));
      b.socket.on('close', () => finish(completeAnswer(got, true) !== undefined ? got : undefined));
      b.socket.write(request);
    });
    if (!answer) return false;
    backends[b.index]!.requests++;
    routed.push({ backend: b.index, path });
    client.write(answer);
    return true;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: (p = '') => `http://127.0.0.1:${port}${p}`,
    setBackend(index, p) {
      backends[index]!.port = p;
    },
    stats: () => backends.map((b) => ({ ...b })),
    routed,
    async close() {
      for (const c of clients) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The length of the first complete HTTP answer in `b`, or undefined while it is incomplete.
 * Content-Length, chunked (up to the last chunk and the blank line), or everything once the
 * backend closed (`closed`) for an answer framed by closing.
 */
export function completeAnswer(b: Buffer, closed: boolean): number | undefined {
  const end = b.indexOf(HEAD_END);
  if (end < 0) return undefined;
  const head = b.subarray(0, end).toString('latin1');
  const bodyStart = end + HEAD_END.length;
  const status = Number(head.split(' ', 3)[1]);
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) return bodyStart;
  const len = /^content-length:\s*(\d+)/im.exec(head);
  if (len) {
    const total = bodyStart + Number(len[1]);
    return b.length >= total ? total : undefined;
  }
  if (/^transfer-encoding:\s*chunked/im.test(head)) {
    let at = bodyStart;
    for (;;) {
      const lineEnd = b.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(b.subarray(at, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) return undefined;
      if (size === 0) {
        const trailerEnd = b.indexOf(HEAD_END, lineEnd);
        return trailerEnd < 0 ? undefined : trailerEnd + HEAD_END.length;
      }
      at = lineEnd + 2 + size + 2;
      if (at > b.length) return undefined;
    }
  }
  return closed ? b.length : undefined;
}
