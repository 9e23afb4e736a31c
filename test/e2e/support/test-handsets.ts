/**
 * TEST-ONLY virtual handsets for the UI's end-to-end tests, until the product's own (main/client)
 * lands. It implements main/api/handsets.ts HandsetFleet with the repository's real parts: a handset
 * tree from createDeviceTree, the client-side command processor (ClientSession) answering the
 * server's packages, real HTTP to the DM server, and a notification endpoint for package #0.
 * No log row is written by hand: every session the UI shows is real DM traffic.
 *
 * Plug it into `npm run serve -- --demo --handsets test/e2e/support/test-handsets.ts`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeMessage, encodeMessage, MEDIA_TYPES, type Encoding } from '../../../main/protocol/codec.js';
import type { SyncML } from '../../../main/protocol/model.js';
import { parsePackage0 } from '../../../main/notify/package0.js';
import { createDeviceTree, imeiFromBody } from '../../../main/tree/mos.js';
import { ClientSession } from '../../../main/tree/processor/session.js';
import type { DmTree } from '../../../main/tree/tree.js';
import type { FleetContext, HandsetFleet, VirtualHandset } from '../../../main/api/handsets.js';

const MODELS = ['AM-X1', 'AM-Lite 2', 'Nordvik N7'];

interface Handset extends VirtualHandset {
  tree: DmTree;
  encoding: Encoding;
  busy: Promise<void> | undefined;
  again: boolean;
}

export function createFleet(ctx: FleetContext): HandsetFleet {
  const handsets = new Map<string, Handset>();
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of listeners) l();
  };
  let serial = 0;
  let pushUrl: string | undefined;

  const push = http.createServer((req, res) => {
    const m = /^\/push\/(.+)$/.exec(req.url ?? '');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const h = m ? handsets.get(decodeURIComponent(m[1]!)) : undefined;
      if (!h || !h.running) {
        res.writeHead(404).end();
        return;
      }
      const p0 = parsePackage0(new Uint8Array(Buffer.concat(chunks)));
      res.writeHead(200).end();
      void run(h, '1200', p0.ok ? p0.value.sessionIdHex : undefined);
    });
  });
  const listening = new Promise<void>((resolve) => push.listen(0, '127.0.0.1', () => {
    pushUrl = `http://127.0.0.1:${(push.address() as AddressInfo).port}/push/`;
    resolve();
  }));

  function register(h: Handset): void {
    const server = ctx.server();
    if (server && pushUrl) server.setDevice(h.devId, { notifyUrl: h.running ? pushUrl + encodeURIComponent(h.devId) : null });
  }

  async function session(h: Handset, alert: '1200' | '1201', sessionId: string | undefined): Promise<void> {
    const server = ctx.server();
    if (!server) throw new Error('the DM server is stopped');
    register(h);
    const s = new ClientSession({ tree: h.tree, serverId: server.config.serverId, serverUri: server.url, encoding: h.encoding, maxMsgSize: 16 * 1024 });
    let msg: SyncML | null = s.start({ alert, sessionId: sessionId ?? (Math.floor(Math.random() * 0xfff0) + 1).toString(16).toUpperCase() });
    let url = server.url;
    for (let i = 0; i < 500 && msg; i++) {
      const body = encodeMessage(msg, h.encoding);
      if (!body.ok) throw new Error(`cannot encode: ${body.error.message}`);
      const res = await fetch(url, { method: 'POST', body: body.value, headers: { 'content-type': MEDIA_TYPES[h.encoding] } });
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      const dec = decodeMessage(bytes);
      if (!dec.ok) throw new Error(`undecodable answer: ${dec.error.message}`);
      if (dec.value.message.hdr.respURI) url = dec.value.message.hdr.respURI;
      msg = await s.receive(dec.value.message);
    }
    h.sessions++;
    h.lastSessionAt = new Date().toISOString();
  }

  function run(h: Handset, alert: '1200' | '1201', sessionId?: string): Promise<void> {
    if (h.busy) {
      h.again = true;
      return h.busy;
    }
    h.busy = (async () => {
      do {
        h.again = false;
        try {
          await session(h, alert, sessionId);
          h.lastError = null;
        } catch (e) {
          h.lastError = e instanceof Error ? e.message : String(e);
        }
        changed();
      } while (h.again && h.running);
    })().finally(() => {
      h.busy = undefined;
    });
    return h.busy;
  }

  const view = (h: Handset): VirtualHandset => ({ devId: h.devId, model: h.model, running: h.running, sessions: h.sessions, lastSessionAt: h.lastSessionAt, lastError: h.lastError });

  return {
    list: () => [...handsets.values()].map(view),
    async add(count, opts = {}) {
      await listening;
      const added: Handset[] = [];
      for (let i = 0; i < count; i++) {
        serial++;
        const devId = `IMEI:${imeiFromBody(`35${String(20240000 + serial * 7919).padStart(8, '0')}0${serial % 10}00`.slice(0, 14))}`;
        const model = opts.model ?? MODELS[(serial - 1) % MODELS.length]!;
        const server = ctx.server();
        const tree = createDeviceTree({
          devId, mod: model,
          accounts: [{ serverId: server?.config.serverId ?? 'dmw', addr: server?.url ?? '', clientCred: { name: 'lab', secret: 'lab' }, serverCred: { name: 'dmw', secret: 'dmw' } }],
        });
        const h: Handset = { devId, model, running: true, sessions: 0, lastSessionAt: null, lastError: null, tree, encoding: serial % 2 === 0 ? 'xml' : 'wbxml', busy: undefined, again: false };
        handsets.set(devId, h);
        register(h);
        added.push(h);
      }
      changed();
      return added.map(view);
    },
    async start(devId) {
      const h = handsets.get(devId);
      if (!h) throw new Error(`no virtual handset ${devId}`);
      h.running = true;
      register(h);
      changed();
    },
    async stop(devId) {
      const h = handsets.get(devId);
      if (!h) throw new Error(`no virtual handset ${devId}`);
      h.running = false;
      register(h);
      changed();
    },
    async connect(devId) {
      const h = handsets.get(devId);
      if (!h) throw new Error(`no virtual handset ${devId}`);
      if (!h.running) throw new Error(`${devId} is stopped`);
      await run(h, '1201');
    },
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async close() {
      for (const h of handsets.values()) h.running = false;
      await Promise.allSettled([...handsets.values()].map((h) => h.busy));
      await new Promise<void>((resolve) => push.close(() => resolve()));
    },
  };
}
