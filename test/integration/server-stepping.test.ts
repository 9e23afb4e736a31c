/**
 * The step control over real HTTP: a real DmServer and a real VirtualHandset (main/client, MD5 both
 * ways). While a device's queue is paused the server holds its answer to each device message (the
 * HTTP request stays open) and each Step lets exactly one queued command out, in the same session;
 * Resume lets the rest go; the hold limit releases by itself; abort and server close end a held
 * session cleanly, with the unsent jobs back in the queue.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeMessage } from '../../main/protocol/codec.js';
import type { Command } from '../../main/protocol/model.js';
import { DmServer, type DmServerOptions } from '../../main/server/server.js';
import type { ServerEvent } from '../../main/server/events.js';
import { VirtualHandset, AAUTH_TYPE } from '../../main/client/index.js';
import { sync } from '../helpers/sync-store.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function lab(o: Partial<DmServerOptions> = {}, dir = mkdtempSync(path.join(tmpdir(), 'dmw-step-'))): Promise<{ server: DmServer; handset: VirtualHandset; dir: string }> {
  const server = await DmServer.start({
    dataDir: dir, port: 0, host: '127.0.0.1',
    clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'pw' }, serverCred: { name: 'dmw', secret: 'srvpw' }, ...o,
  });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => server.close());
  const handset = await VirtualHandset.open({
    device: { accounts: [{ serverId: server.config.serverId, addr: server.url, clientCred: { type: AAUTH_TYPE.md5, name: 'lab', secret: 'pw' }, serverCred: { type: AAUTH_TYPE.md5, name: 'dmw', secret: 'srvpw' } }] },
  });
  cleanups.push(() => handset.close());
  return { server, handset, dir };
}

/** Job commands (not statuses, not the engine's own 1222/1223 alerts) in each server message of a session. */
function serverCommands(server: DmServer, sessionId: number): { commands: Command[]; note: string | null }[] {
  return sync(server.store).messages(sessionId).filter((m) => m.direction === 'out').map((m) => {
    const d = decodeMessage(m.bytes);
    if (!d.ok) throw new Error(`logged message does not decode: ${d.error.message}`);
    return { commands: d.value.message.body.commands.filter((c) => c.kind !== 'Status' && !(c.kind === 'Alert' && ['1222', '1223'].includes(c.data ?? ''))), note: m.note };
  });
}

const URIS = ['./DevInfo/Mod', './DevInfo/Man', './DevInfo/Lang'];

describe('step control: one command per Step, within one open session', () => {
  it('three jobs: each Step releases exactly one command in the same session, Resume finishes the rest', async () => {
    const { server, handset } = await lab();
    const dev = handset.devId;
    const jobs = [];
    for (const uri of URIS) jobs.push((await server.addJob(dev, { kind: 'get', uri })).job);
    server.pauseDevice(dev);
    const events: ServerEvent[] = [];
    server.bus.subscribe((e) => events.push(e));

    let heldNext = server.bus.next('session-held');
    const session = handset.connect();
    const h1 = await heldNext;
    expect(h1.next).toEqual({ jobId: jobs[0]!.id, cmd: 'Get', target: URIS[0] });
    expect(h1.pending).toBe(3);
    // Nothing has gone out yet: the device's request is open, the log has its message only (after
    // the MD5 challenge exchange, which is never held: it carries no command).
    expect(server.steppingState(dev)).toMatchObject({ paused: true, held: { sessionId: h1.sessionId, next: { jobId: jobs[0]!.id }, pending: 3 } });
    expect(sync(server.store).messages(h1.sessionId).map((m) => m.direction)).toEqual(['in', 'out', 'in']);
    expect(sync(server.store).job(jobs[0]!.id)!.status).toBe('queued');

    heldNext = server.bus.next('session-held');
    expect(server.step(dev).released).toBe(true);
    const h2 = await heldNext;
    expect(h2.sessionId).toBe(h1.sessionId);
    expect(h2.next).toMatchObject({ jobId: jobs[1]!.id, target: URIS[1] });
    expect(h2.pending).toBe(2);
    // The device's answer to the first command is stored while the second waits.
    expect(sync(server.store).job(jobs[0]!.id)).toMatchObject({ status: 'done', sessionId: h1.sessionId, results: [{ data: handset.model }] });
    expect(sync(server.store).job(jobs[1]!.id)!.status).toBe('queued');

    heldNext = server.bus.next('session-held');
    expect(server.step(dev).released).toBe(true);
    const h3 = await heldNext;
    expect(h3).toMatchObject({ sessionId: h1.sessionId, next: { jobId: jobs[2]!.id, target: URIS[2] }, pending: 1 });

    server.resume(dev);
    const outcome = await session;
    expect(outcome.ok).toBe(true);
    expect(server.steppingState(dev)).toMatchObject({ paused: false, held: null });

    // One session, every job done in it.
    const sessions = sync(server.store).sessions({ device: dev });
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ id: h1.sessionId, state: 'done' });
    for (const j of jobs) expect(sync(server.store).job(j.id)).toMatchObject({ status: 'done', statusCode: 200, sessionId: h1.sessionId });

    // The log: the challenge, then each server message carried one job command, in queue order; then
    // the closing statuses.
    const out = serverCommands(server, h1.sessionId).slice(1);
    expect(out.map((m) => m.commands.length)).toEqual([1, 1, 1, 0]);
    expect(out.slice(0, 3).map((m) => (m.commands[0] as { items: { target?: { locURI: string } }[] }).items[0]!.target!.locURI)).toEqual(URIS);
    expect(out[0]!.note).toMatch(/held \d+\.\d s by the step control; released by Step \(1 command\)/);
    expect(out[1]!.note).toMatch(/released by Step \(1 command\)/);
    expect(out[2]!.note).toMatch(/released by Resume \(1 command\)/);
    expect(out[3]!.note).toBeNull();
    // Logged when it left: the answer's time is after the Step, its duration includes the hold.
    const log = sync(server.store).messages(h1.sessionId);
    expect(Date.parse(log[3]!.at)).toBeGreaterThanOrEqual(Date.parse(h1.at));
    expect(log[3]!.durationMs).toBeGreaterThanOrEqual(Date.parse(log[3]!.at) - Date.parse(h1.at));

    const released = events.filter((e): e is Extract<ServerEvent, { type: 'session-released' }> => e.type === 'session-released');
    expect(released.map((e) => [e.by, e.commands])).toEqual([['step', 1], ['step', 1], ['resume', 1]]);
    expect(events.filter((e) => e.type === 'session-held')).toHaveLength(3);
  }, 30_000);

  it('Resume lets everything that is left go in one message, as if never paused', async () => {
    const { server, handset } = await lab();
    const dev = handset.devId;
    for (const uri of URIS) await server.addJob(dev, { kind: 'get', uri });
    server.pauseDevice(dev);
    const held = server.bus.next('session-held');
    const session = handset.connect();
    const h = await held;
    server.resume(dev);
    expect((await session).ok).toBe(true);
    expect(serverCommands(server, h.sessionId).map((m) => m.commands.length)).toEqual([0, 3, 0]);
  }, 30_000);

  it('a Step given before the session lets one command go without a hold', async () => {
    const { server, handset } = await lab();
    const dev = handset.devId;
    const { job } = await server.addJob(dev, { kind: 'get', uri: URIS[0]! });
    server.pauseDevice(dev);
    expect(server.step(dev)).toMatchObject({ released: false, state: { credits: 1 } });
    let holds = 0;
    server.bus.subscribe((e) => void (e.type === 'session-held' && holds++));
    expect((await handset.connect()).ok).toBe(true);
    expect(holds).toBe(0);
    expect(sync(server.store).job(job.id)!.status).toBe('done');
    expect(server.steppingState(dev)).toMatchObject({ paused: true, credits: 0 });
  }, 30_000);

  it('a forgotten pause never kills the session: past the hold limit each answer goes by itself, one command at a time', async () => {
    const { server, handset } = await lab({ limits: { maxHoldMs: 120 } });
    const dev = handset.devId;
    const jobs = [];
    for (const uri of URIS.slice(0, 2)) jobs.push((await server.addJob(dev, { kind: 'get', uri })).job);
    server.pauseDevice(dev);
    const released: string[] = [];
    server.bus.subscribe((e) => void (e.type === 'session-released' && released.push(e.by)));
    const outcome = await handset.connect();
    expect(outcome.ok).toBe(true);
    const [s] = sync(server.store).sessions({ device: dev });
    expect(s).toMatchObject({ state: 'done' });
    for (const j of jobs) expect(sync(server.store).job(j.id)).toMatchObject({ status: 'done', sessionId: s!.id });
    const out = serverCommands(server, s!.id);
    expect(out.map((m) => m.commands.length)).toEqual([0, 1, 1, 0]);
    expect(out[1]!.note).toMatch(/the hold limit of 0\.1 s was reached, released by itself as one Step \(1 command\)/);
    expect(released).toEqual(['limit', 'limit']);
    // Still paused: the next session is stepped too.
    expect(server.steppingState(dev).paused).toBe(true);
  }, 30_000);

  it('abort while held: the held answer becomes Alert 1223, no command goes, the jobs wait for the next session', async () => {
    const { server, handset } = await lab();
    const dev = handset.devId;
    const jobs = [];
    for (const uri of URIS.slice(0, 2)) jobs.push((await server.addJob(dev, { kind: 'get', uri })).job);
    server.pauseDevice(dev);
    let held = server.bus.next('session-held');
    const session = handset.connect();
    const h1 = await held;
    held = server.bus.next('session-held');
    server.step(dev);
    const h2 = await held;
    expect(server.abortSession(h2.sessionId)).toBe(true);
    await session;
    expect(sync(server.store).session(h1.sessionId)).toMatchObject({ state: 'aborted', reason: 'aborted by the server' });
    expect(server.steppingState(dev).held).toBeNull();
    const out = serverCommands(server, h1.sessionId);
    expect(out.map((m) => m.commands.length)).toEqual([0, 1, 0]);
    expect(out[2]!.note).toMatch(/aborted while held \(Alert 1223, no command\)/);
    const last = sync(server.store).messages(h1.sessionId).filter((m) => m.direction === 'out').at(-1)!;
    expect(last.decoded).toMatch(/<Data>1223<\/Data>/);
    expect(sync(server.store).job(jobs[0]!.id)!.status).toBe('done');
    // Never sent: back in the queue without an attempt counted, and it completes next time.
    expect(sync(server.store).job(jobs[1]!.id)).toMatchObject({ status: 'queued', attempts: 0 });
    server.resume(dev);
    expect((await handset.connect()).ok).toBe(true);
    expect(sync(server.store).job(jobs[1]!.id)!.status).toBe('done');
  }, 30_000);

  it('server close while held answers the device (Alert 1223) instead of leaving it hanging; the job is queued again', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmw-step-close-'));
    const { server, handset } = await lab({}, dir);
    const dev = handset.devId;
    const { job } = await server.addJob(dev, { kind: 'get', uri: URIS[0]! });
    server.pauseDevice(dev);
    const held = server.bus.next('session-held');
    const session = handset.connect();
    const h = await held;
    await server.close();
    const outcome = await session;
    expect(outcome.roundTrips).toBe(2); // the MD5 challenge, then package 1 again: answered with 1223
    const again = await DmServer.start({ dataDir: dir, port: 0, host: '127.0.0.1' });
    cleanups.push(() => again.close());
    expect(sync(again.store).session(h.sessionId)).toMatchObject({ state: 'interrupted', reason: 'server shut down' });
    expect(sync(again.store).job(job.id)!.status).toBe('queued');
    const last = sync(again.store).messages(h.sessionId).at(-1)!;
    expect(last).toMatchObject({ direction: 'out' });
    expect(last.note).toMatch(/server shut down while it was held/);
  }, 30_000);
});
