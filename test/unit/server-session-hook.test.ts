/**
 * DmServer.sessionHook is the request path's (dm-endpoint.ts): attaching scripted sessions sets it
 * there, detaching them lets the device's sessions go back to the server's own engine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { DmServer } from '../../main/server/server.js';
import { detachAll, ScriptedSessions } from '../../main/server/scripted.js';

it('ScriptedSessions.of sets the server hook and detachAll takes it away again', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'dmw-hook-'));
  const server = await DmServer.start({ port: 0, host: '127.0.0.1', dataDir });
  try {
    expect(server.sessionHook).toBeUndefined();
    const hook = ScriptedSessions.of(server);
    expect(server.sessionHook).toBe(hook);
    expect(ScriptedSessions.of(server)).toBe(hook);
    detachAll(server);
    expect(server.sessionHook).toBeUndefined();
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
