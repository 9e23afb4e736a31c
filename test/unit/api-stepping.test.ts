/**
 * The UI backend's jobs.pause / jobs.step over a real DM server and the test handsets (real DM over
 * HTTP): inside an open session each Step releases the held answer with one command, in the same
 * session; jobs added while the device is in session go to the server's step control, not to the
 * before-the-server hold; Resume lets the rest go. The queue state and its events carry the held
 * session for the Sessions view.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend } from '../../main/api/backend.js';
import type { QueueState } from '../../main/api/contract.js';
import { contract, eventSchemas } from '../../main/api/contract.js';

const FLEET = path.resolve('test/e2e/support/test-handsets.ts');

describe('step control through the UI backend', () => {
  let b: Backend;
  let dev: string;
  beforeAll(async () => {
    b = await Backend.create({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'dmw-backend-step-')), settings: { port: 0 }, startServer: true, handsetModule: FLEET });
    const st = await b.handlers['handsets.add']({ count: 1 });
    dev = st.handsets[0]!.devId;
    await b.handsetFleet!.connect(dev);
  });
  afterAll(() => b.close());

  it('steps one command per Step inside one session, with the held session in the queue state', async () => {
    const server = b.running!;
    const changes: QueueState[] = [];
    const off = b.onEvent((name, payload) => {
      if (name === 'jobs.changed') changes.push(eventSchemas['jobs.changed'].parse(payload));
      if (name === 'server.event') eventSchemas['server.event'].parse(payload);
    });
    await b.handlers['jobs.pause']({ device: dev, paused: true });
    // Queued by another process (as `dmw job add` does): straight to the server's queue.
    const { job: first } = await server.addJob(dev, { kind: 'get', uri: './DevInfo/Mod' });

    let held = server.bus.next('session-held');
    const session = b.handsetFleet!.connect(dev);
    const h1 = await held;
    const q1 = contract['jobs.queue'].output.parse(await b.handlers['jobs.queue']({ device: dev }));
    expect(q1).toMatchObject({ paused: true, held: [], session: { sessionId: h1.sessionId, next: { jobId: first.id, cmd: 'Get', target: './DevInfo/Mod' }, pending: 1 } });
    expect(changes.at(-1)?.session?.sessionId).toBe(h1.sessionId);

    // In session, a job from the UI joins the session's queue instead of waiting in the backend.
    const added = await b.handlers['jobs.add']({ device: dev, spec: { kind: 'get', uri: './DevInfo/Man' } });
    expect(added.held).toBeNull();
    expect(added.job).toMatchObject({ status: 'queued' });

    held = server.bus.next('session-held');
    const s1 = contract['jobs.step'].output.parse(await b.handlers['jobs.step']({ device: dev }));
    expect(s1.job?.id).toBe(first.id);
    const h2 = await held;
    expect(h2).toMatchObject({ sessionId: h1.sessionId, next: { jobId: added.job!.id, target: './DevInfo/Man' } });
    expect(await server.store.job(first.id)).toMatchObject({ status: 'done', sessionId: h1.sessionId });

    const ended = server.bus.next('session-ended', (e) => e.sessionId === h1.sessionId);
    const s2 = await b.handlers['jobs.step']({ device: dev });
    expect(s2.job?.id).toBe(added.job!.id);
    expect((await ended).state).toBe('done');
    await session;
    expect(await server.store.job(added.job!.id)).toMatchObject({ status: 'done', sessionId: h1.sessionId });
    expect((await b.handlers['jobs.queue']({ device: dev })).session).toBeNull();

    const detail = await b.handlers['sessions.get']({ id: h1.sessionId });
    const out = detail.messages.filter((m) => m.direction === 'out');
    expect(out.map((m) => m.commands.filter((c) => c.kind === 'Get').length)).toEqual([1, 1, 0]);
    expect(out[0]!.note).toMatch(/released by Step \(1 command\)/);

    await b.handlers['jobs.pause']({ device: dev, paused: false });
    off();
  }, 30_000);

  it('Resume lets a held answer go with everything waiting', async () => {
    const server = b.running!;
    await b.handlers['jobs.pause']({ device: dev, paused: true });
    for (const uri of ['./DevInfo/Mod', './DevInfo/Man', './DevInfo/Lang']) await server.addJob(dev, { kind: 'get', uri });
    const held = server.bus.next('session-held');
    const session = b.handsetFleet!.connect(dev);
    const h = await held;
    const q = await b.handlers['jobs.pause']({ device: dev, paused: false });
    expect(q).toMatchObject({ paused: false, session: null });
    await session;
    const detail = await b.handlers['sessions.get']({ id: h.sessionId });
    expect(detail.session.state).toBe('done');
    expect(detail.messages.filter((m) => m.direction === 'out').map((m) => m.commands.filter((c) => c.kind === 'Get').length)).toEqual([3, 0]);
  }, 30_000);

  it('held jobs into one session: every job goes to the server, then one command per Step in a single session', async () => {
    const server = b.running!;
    await b.handlers['jobs.pause']({ device: dev, paused: true });
    const uris = ['./DevInfo/Mod', './DevInfo/Man', './DevInfo/Lang'];
    for (const uri of uris) expect((await b.handlers['jobs.add']({ device: dev, spec: { kind: 'get', uri }, notify: false })).held).not.toBeNull();
    const r = await b.handlers['jobs.step']({ device: dev, all: true });
    expect(r.queue.held).toHaveLength(0);
    expect((await server.store.queuedJobs(dev)).map((j) => j.target)).toEqual(uris);

    let held = server.bus.next('session-held');
    const session = b.handsetFleet!.connect(dev);
    const targets: string[] = [];
    let sessionId = 0;
    for (let i = 0; i < uris.length; i++) {
      const h = await held;
      sessionId ||= h.sessionId;
      expect(h.sessionId).toBe(sessionId);
      targets.push(h.next!.target);
      held = server.bus.next('session-held');
      await b.handlers['jobs.step']({ device: dev });
    }
    await session;
    expect(targets).toEqual(uris);
    const detail = await b.handlers['sessions.get']({ id: sessionId });
    expect(detail.session.state).toBe('done');
    expect(detail.jobs.map((j) => j.status)).toEqual(['done', 'done', 'done']);
    expect(detail.messages.filter((m) => m.direction === 'out').map((m) => m.commands.filter((c) => c.kind === 'Get').length)).toEqual([1, 1, 1, 0]);
    await b.handlers['jobs.pause']({ device: dev, paused: false });
  }, 30_000);

  it('out of session the before-the-server hold still applies, and its Step is not held again', async () => {
    await b.handlers['jobs.pause']({ device: dev, paused: true });
    const a = await b.handlers['jobs.add']({ device: dev, spec: { kind: 'get', uri: './DevInfo/Mod' }, notify: false });
    expect(a.held).not.toBeNull();
    const s = await b.handlers['jobs.step']({ device: dev });
    expect(s.job).toMatchObject({ status: 'queued' });
    await b.handsetFleet!.connect(dev); // would hang on a hold if the Step were not honoured
    expect((await b.running!.store.job(s.job!.id))?.status).toBe('done');
    await b.handlers['jobs.pause']({ device: dev, paused: false });
  }, 30_000);
});
