/**
 * A DM server and a virtual handset on 127.0.0.1 for conformance runs in tests: the plan runs
 * in-process (runConformance), each session the runner asks for is one handset.connect().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer, type DmServerOptions } from '../../main/server/index.js';
import { VirtualHandset, type HandsetOptions } from '../../main/client/index.js';
import { runConformance, type RunOptions } from '../../main/judge/conformance/run.js';
import type { AuthType } from '../../main/protocol/auth.js';

export interface Lab {
  server: DmServer;
  handset: VirtualHandset;
  run(opts?: Partial<RunOptions>): ReturnType<typeof runConformance>;
  close(): Promise<void>;
}

export async function conformanceLab(p: { faults?: string[]; auth?: AuthType; server?: Partial<DmServerOptions>; handset?: Partial<HandsetOptions> } = {}): Promise<Lab> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-conf-'));
  const auth = p.auth ?? 'basic';
  const server = await DmServer.start({
    dataDir: dir, port: 0, host: '127.0.0.1', clientAuth: 'none', defaultClientCred: { name: 'lab', secret: 'pw' },
    serverCred: { name: 'dmw', secret: 'srv-secret' }, store: { synchronous: 'NORMAL' }, ...p.server,
  });
  const handset = await VirtualHandset.open({
    device: {
      devId: 'IMEI:356938035643809', mod: 'Lab Phone 9',
      accounts: [{ serverId: server.config.serverId, addr: server.url, clientCred: { type: auth, name: 'lab', secret: 'pw' }, serverCred: { type: 'md5', name: 'dmw', secret: 'srv-secret' } }],
    },
    ...(p.faults ? { faults: p.faults } : {}),
    ...p.handset,
  });
  return {
    server,
    handset,
    run: (opts = {}) => runConformance({ server, device: handset.devId, waitMs: 10_000, trigger: () => handset.connect(), ...opts }),
    async close() {
      handset.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
