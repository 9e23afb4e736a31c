/**
 * What stalled event-stream subscribers cost the server: a DM server with the management API in this
 * process, N subscribers to GET /api/v1/events in a child process that never read, and the events of
 * SESSIONS sessions published meanwhile (session-started, device-seen, alert, job-done, session-ended
 * on the server's bus, with the sizes real ones have). Prints one JSON line:
 *
 *   rss_idle_mb        RSS with the subscribers connected, before any event
 *   rss_peak_mb        highest RSS seen while the events flowed
 *   rss_end_mb         RSS after the last event and a full GC
 *   buffered_mb        bytes the server still holds for the subscribers' sockets at the end
 *   subscribers_left   subscribers still on the stream at the end (stats, when the API has them)
 *   buffered_later_mb  the same as buffered_mb 12 s later (a dropped subscriber's socket is cut 10 s
 *                      after its last event), and rss_later_mb the RSS then, after a full GC
 *
 *   node --expose-gc --import tsx test/bench/sse-stalled-rss.ts [SUBSCRIBERS=100] [SESSIONS=10000]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer } from '../../main/server/server.js';
import { attachApi, buildAuthConfig } from '../../main/server/api/index.js';
import type { ServerEvent } from '../../main/server/events.js';
import type { JobRecord } from '../../main/server/types.js';

const TOKEN = 'bench-operator-token-0123456789';
const subscribers = Number(process.argv[2] ?? 100);
const sessions = Number(process.argv[3] ?? 10_000);
const mb = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;

const CLIENTS = `
const net = require('node:net');
const [port, n, token] = process.argv.slice(1);
let open = 0;
for (let i = 0; i < Number(n); i++) {
  const s = net.connect(Number(port), '127.0.0.1', () => {
    s.write('GET /api/v1/events HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nAuthorization: Bearer ' + token + '\\r\\nAccept: text/event-stream\\r\\n\\r\\n');
    s.pause(); // never read a byte
    if (++open === Number(n)) process.stdout.write('connected\\n');
  });
  s.on('error', () => {});
}
setInterval(() => {}, 1 << 30);
`;

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-sse-bench-'));
  const server = await DmServer.start({ dataDir: dir, port: 0, host: '127.0.0.1', serverId: 'bench' });
  const api = attachApi(server, { auth: buildAuthConfig({ apiToken: TOKEN, peers: [], serverId: 'bench' }) });
  const sockets = new Set<Socket>();
  const hook = server.httpHook!;
  server.httpHook = (req, res) => {
    if (req.url?.startsWith('/api/v1/events')) sockets.add(req.socket);
    return hook(req, res);
  };
  const child = spawn(process.execPath, ['-e', CLIENTS, String(server.port), String(subscribers), TOKEN], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  while (sockets.size < subscribers) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const rssIdle = process.memoryUsage().rss;
  let rssPeak = rssIdle;

  const at = () => new Date().toISOString();
  const results = [{ uri: './DevInfo/Mod', format: 'chr', data: 'x'.repeat(600), type: 'text/plain' }];
  for (let i = 0; i < sessions; i++) {
    const device = `IMEI:35693803${String(i).padStart(7, '0')}`;
    const job = {
      id: i + 1, device, command: 'get', target: './DevInfo/Mod', spec: { kind: 'get', uri: './DevInfo/Mod' }, status: 'done', statusCode: 200,
      results, members: [], error: null, attempts: 1, sessionId: i + 1, createdAt: at(), updatedAt: at(), onUnconfirmed: 'verify',
    } as unknown as JobRecord;
    const events: ServerEvent[] = [
      { type: 'session-started', at: at(), sessionId: i + 1, device, dmSessionId: String(i), encoding: 'wbxml' },
      { type: 'device-seen', at: at(), device, firstTime: true },
      { type: 'alert', at: at(), device, sessionId: i + 1, alert: { code: '1226', items: [{ source: './FUMO/Update', type: 'org.openmobilealliance.dm.firmwareupdate.devicerequest', format: 'chr', data: '0' }] } as never },
      { type: 'job-done', at: at(), job },
      { type: 'session-ended', at: at(), sessionId: i + 1, device, state: 'done', reason: 'completed' },
    ];
    for (const e of events) server.bus.emit(e);
    if (i % 20 === 19) {
      await new Promise((r) => setImmediate(r));
      if (i % 200 === 199) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }
  }
  await new Promise((r) => setTimeout(r, 500));
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  gc?.();
  const rssEnd = process.memoryUsage().rss;
  let buffered = 0;
  for (const s of sockets) if (!s.destroyed) buffered += s.writableLength;
  const stats = (api as { events?: { stats(): { subscribers: unknown[] } } }).events?.stats();
  await new Promise((r) => setTimeout(r, 12_000));
  gc?.();
  const rssLater = process.memoryUsage().rss;
  let bufferedLater = 0;
  for (const s of sockets) if (!s.destroyed) bufferedLater += s.writableLength;
  process.stdout.write(`${JSON.stringify({
    subscribers, sessions, rss_idle_mb: mb(rssIdle), rss_peak_mb: mb(rssPeak), rss_end_mb: mb(rssEnd), buffered_mb: mb(buffered),
    subscribers_left: stats ? stats.subscribers.length : null, buffered_later_mb: mb(bufferedLater), rss_later_mb: mb(rssLater),
  })}\n`);
  child.kill();
  api.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

void main();
