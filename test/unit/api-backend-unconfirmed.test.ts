/**
 * The UI backend and unconfirmed jobs, through dispatch (the contract's validation both ways, as
 * either transport does it): jobs.list and devices.list show them, jobs.decide decides with the
 * store's reasons when it refuses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend } from '../../main/api/backend.js';
import { dispatch } from '../../main/api/dispatch.js';
import { ServerStore } from '../../main/store/server-store.js';

const DEV = 'IMEI:490154203237518';

describe('UI backend: unconfirmed jobs', () => {
  let b: Backend;
  let dir: string;
  let ids: number[];
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-backend-unconfirmed-'));
    // What a crash left: a Replace and an Exec on the wire in a session that never ended.
    const s = ServerStore.open(dir);
    s.touchDevice(DEV, Date.now());
    const sid = s.createSession({ device: DEV, dmSessionId: '1', encoding: 'xml' }, Date.now());
    ids = [s.addJob(DEV, { kind: 'replace', uri: './Lab/R', value: 'v' }, Date.now()).id, s.addJob(DEV, { kind: 'exec', uri: './Lab/Reboot' }, Date.now()).id];
    s.markSent(ids, sid, Date.now());
    s.recoverInterrupted(Date.now());
    s.close();
    b = await Backend.create({ dataDir: dir, settings: { port: 0 }, handsets: { ok: false, reason: 'not in this test' } });
  });
  afterAll(async () => {
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('jobs.list and devices.list show them, within the contract', async () => {
    const list = await dispatch(b.handlers, 'jobs.list', { device: DEV });
    expect(list).toMatchObject({ ok: true, value: [{ id: ids[0], status: 'unconfirmed', onUnconfirmed: 'ask' }, { id: ids[1], status: 'unconfirmed' }] });
    expect(await dispatch(b.handlers, 'devices.list', {})).toMatchObject({ ok: true, value: [{ devId: DEV, jobs: { unconfirmed: 2, queued: 0, sent: 0 } }] });
  });

  it('jobs.decide: verify a Replace, refuse verify on an Exec and a second decision, with the reason', async () => {
    expect(await dispatch(b.handlers, 'jobs.decide', { id: ids[0], action: 'verify' })).toMatchObject({ ok: true, value: { id: ids[0], status: 'queued', verify: true } });
    expect(await dispatch(b.handlers, 'jobs.decide', { id: ids[0], action: 'drop' })).toMatchObject({ ok: false, error: { code: 'failed', message: expect.stringMatching(/is queued, not unconfirmed/) } });
    expect(await dispatch(b.handlers, 'jobs.decide', { id: ids[1], action: 'verify' })).toMatchObject({ ok: false, error: { message: expect.stringMatching(/decide resend or drop/) } });
    expect(await dispatch(b.handlers, 'jobs.decide', { id: ids[1], action: 'later' })).toMatchObject({ ok: false, error: { code: 'bad-input' } });
    expect(await dispatch(b.handlers, 'jobs.decide', { id: ids[1], action: 'drop' })).toMatchObject({ ok: true, value: { status: 'failed' } });
  });
});
