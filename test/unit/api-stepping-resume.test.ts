/**
 * Issue 18 point 6 (3): Resume after "Step through in one session" must let every job go, also one
 * queued meanwhile (before the session began, so it waited in the UI backend's hold, or during it,
 * so it waited in the server's queue); none may stay held.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend } from '../../main/api/backend.js';

const FLEET = path.resolve('test/e2e/support/test-handsets.ts');

describe('Resume after Step through in one session', () => {
  let b: Backend;
  let dev: string;
  beforeAll(async () => {
    b = await Backend.create({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'dmw-backend-resume-')), settings: { port: 0 }, startServer: true, handsetModule: FLEET });
    const st = await b.handlers['handsets.add']({ count: 1 });
    dev = st.handsets[0]!.devId;
    await b.handsetFleet!.connect(dev);
  });
  afterAll(() => b.close());

  it('sends a job queued meanwhile, before the session began, once the queue resumes', async () => {
    const server = b.running!;
    await b.handlers['jobs.pause']({ device: dev, paused: true });
    for (const uri of ['./DevInfo/Mod', './DevInfo/Man']) await b.handlers['jobs.add']({ device: dev, spec: { kind: 'get', uri }, notify: false });
    await b.handlers['jobs.step']({ device: dev, all: true });
    // Queued after the step, before the device called in: it waits in the backend's hold.
    const late = await b.handlers['jobs.add']({ device: dev, spec: { kind: 'get', uri: './DevInfo/Lang' }, notify: false });
    expect(late.held).not.toBeNull();

    const held = server.bus.next('session-held');
    const session = b.handsetFleet!.connect(dev);
    const h = await held;
    const q = await b.handlers['jobs.pause']({ device: dev, paused: false });
    expect(q.held).toEqual([]);
    await session;
    // The late job went to the server; it is done in this session or queued for the next one, never held.
    if ((await server.store.queuedJobs(dev)).length > 0) await b.handsetFleet!.connect(dev);
    const jobs = await b.handlers['jobs.list']({ device: dev });
    const lang = jobs.find((j) => j.target === './DevInfo/Lang');
    expect(lang?.status).toBe('done');
    expect((await b.handlers['jobs.queue']({ device: dev })).held).toEqual([]);
    expect(h.sessionId).toBeGreaterThan(0);
  }, 30_000);

  it('sends a job queued meanwhile, during the held session, in that session on Resume', async () => {
    const server = b.running!;
    await b.handlers['jobs.pause']({ device: dev, paused: true });
    for (const uri of ['./DevInfo/Mod', './DevInfo/Man']) await b.handlers['jobs.add']({ device: dev, spec: { kind: 'get', uri }, notify: false });
    await b.handlers['jobs.step']({ device: dev, all: true });
    let held = server.bus.next('session-held');
    const session = b.handsetFleet!.connect(dev);
    const h = await held;
    held = server.bus.next('session-held');
    await b.handlers['jobs.step']({ device: dev });
    await held;
    const late = await b.handlers['jobs.add']({ device: dev, spec: { kind: 'get', uri: './DevInfo/DmV' } });
    expect(late.held).toBeNull();
    await b.handlers['jobs.pause']({ device: dev, paused: false });
    await session;
    expect(await server.store.job(late.job!.id)).toMatchObject({ status: 'done', sessionId: h.sessionId });
    expect((await b.handlers['jobs.queue']({ device: dev })).held).toEqual([]);
  }, 30_000);
});
