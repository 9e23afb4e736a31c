// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import type { SessionSummary } from '../../main/api/contract.js';
import { buildTreeIndex, visibleRows } from '../../renderer/hooks/tree-index.js';
import { createAppStore, filterSessions } from '../../renderer/stores/app-store.js';
import { validateValue } from '../../renderer/components/ValueEditor.js';
import { aclText, parseAclText } from '../../renderer/views/AclView.js';
import { fakeApi } from '../helpers/fake-api.js';

const session = (id: number, over: Partial<SessionSummary> = {}): SessionSummary => ({
  id, device: 'IMEI:1', dmSessionId: 'A', state: 'done', encoding: 'xml', authType: 'none', startedAt: '2024-01-01T00:00:00.000Z', endedAt: null, reason: null, messageCount: 2, ...over,
});

describe('app store', () => {
  it('applies a burst of events in one state update per frame', () => {
    const frames: (() => void)[] = [];
    const store = createAppStore({ api: fakeApi(), schedule: (fn) => frames.push(fn) });
    const listener = vi.fn();
    store.subscribe(listener);
    const at = '2024-01-01T00:00:00.000Z';
    store.getState().ingest('server.event', { type: 'session-started', at, sessionId: 7, device: 'IMEI:1', dmSessionId: '1A', encoding: 'wbxml' });
    for (let i = 0; i < 50; i++) store.getState().ingest('server.event', { type: 'message', at, sessionId: 7, direction: i % 2 ? 'out' : 'in', bytes: 10, msgId: '1', httpStatus: null });
    store.getState().ingest('server.event', { type: 'session-ended', at, sessionId: 7, device: 'IMEI:1', state: 'done', reason: 'completed' });
    expect(frames).toHaveLength(1);
    expect(listener).not.toHaveBeenCalled();
    frames[0]!();
    expect(listener).toHaveBeenCalledTimes(1);
    expect(store.getState().sessions[0]).toMatchObject({ id: 7, messageCount: 50, state: 'done', reason: 'completed' });
  });

  it('tracks a job from queued to done for the per-request badge', async () => {
    const job = { id: 3, device: 'IMEI:1', command: 'replace', target: './X', status: 'queued' as const, statusCode: null, results: [], members: [], spec: {}, sessionId: null, attempts: 0, error: null, createdAt: 'x', updatedAt: 'x' };
    const frames: (() => void)[] = [];
    const store = createAppStore({ api: fakeApi({ 'jobs.add': () => ({ job, held: null, notified: { ok: true, detail: 'sent' } }), 'jobs.queue': () => ({ device: 'IMEI:1', paused: false, held: [] }) }), schedule: (fn) => frames.push(fn) });
    const j = await store.getState().addJob('IMEI:1', { kind: 'replace', uri: './X', value: '1' });
    expect(j?.id).toBe(3);
    expect(store.getState().jobs[3]?.status).toBe('queued');
    store.getState().ingest('server.event', { type: 'job-sent', at: 'x', jobId: 3, device: 'IMEI:1', sessionId: 9 });
    frames.shift()!();
    expect(store.getState().jobs[3]?.status).toBe('sent');
    store.getState().ingest('server.event', { type: 'job-done', at: 'x', job: { ...job, status: 'done', statusCode: 200 } });
    frames.shift()!();
    expect(store.getState().jobs[3]).toMatchObject({ status: 'done', statusCode: 200 });
  });

  it('turns API failures into notices, never throws into the view', async () => {
    const store = createAppStore({ api: fakeApi() });
    await store.getState().loadDevices();
    expect(store.getState().notices[0]?.text).toMatch(/devices: devices\.list not faked/);
  });

  it('gives each test a fresh store', () => {
    const a = createAppStore({ api: fakeApi() });
    const b = createAppStore({ api: fakeApi() });
    a.getState().setView('tree');
    expect(b.getState().view).toBe('devices');
  });

  it('filters sessions by device, state and text', () => {
    const list = [session(1), session(2, { device: 'IMEI:2', state: 'failed', reason: 'authentication failed' }), session(3, { device: 'IMEI:2' })];
    expect(filterSessions(list, { device: 'IMEI:2', state: null, text: '' }).map((s) => s.id)).toEqual([2, 3]);
    expect(filterSessions(list, { device: null, state: 'failed', text: '' }).map((s) => s.id)).toEqual([2]);
    expect(filterSessions(list, { device: null, state: null, text: 'authentication' }).map((s) => s.id)).toEqual([2]);
  });
});

describe('tree index', () => {
  it('builds the hierarchy from cached URIs, ACL rows included, and flattens what is expanded', () => {
    const at = 'x';
    const idx = buildTreeIndex([
      { uri: './DevInfo/Mod', format: 'chr', type: null, data: 'X1', fetchedAt: at },
      { uri: './DevInfo', format: 'node', type: null, data: null, fetchedAt: at },
      { uri: './DevInfo?prop=ACL', format: 'chr', type: null, data: 'Get=*', fetchedAt: at },
      { uri: './.?prop=ACL', format: 'chr', type: null, data: 'Add=*&Get=*', fetchedAt: at },
      { uri: './A/B/C', format: 'int', type: null, data: '1', fetchedAt: at },
    ]);
    expect(idx.byUri.get('./DevInfo')?.acl).toBe('Get=*');
    expect(idx.root.acl).toBe('Add=*&Get=*');
    expect(idx.byUri.get('./A/B')?.children.map((c) => c.uri)).toEqual(['./A/B/C']);
    expect(visibleRows(idx, { '.': true }).map((n) => n.uri)).toEqual(['.', './A', './DevInfo']);
    expect(visibleRows(idx, { '.': true, './DevInfo': true }).map((n) => n.uri)).toEqual(['.', './A', './DevInfo', './DevInfo/Mod']);
  });

  it('flattens 100k nodes quickly enough to do it on every expand', () => {
    const entries = [];
    for (let i = 0; i < 100_000; i++) entries.push({ uri: `./Big/N${Math.floor(i / 100)}/L${i}`, format: 'chr', type: null, data: String(i), fetchedAt: 'x' });
    const idx = buildTreeIndex(entries);
    const all: Record<string, true> = { '.': true, './Big': true };
    for (let i = 0; i < 1000; i++) all[`./Big/N${i}`] = true;
    expect(visibleRows(idx, all).length).toBe(100_000 + 1000 + 2);
  });
});

describe('typed values and ACL text', () => {
  it('checks values by DM format', () => {
    expect(validateValue('int', '42')).toBeNull();
    expect(validateValue('int', '4.2')).not.toBeNull();
    expect(validateValue('bool', 'true')).toBeNull();
    expect(validateValue('bool', 'yes')).not.toBeNull();
    expect(validateValue('b64', 'AAEC')).toBeNull();
    expect(validateValue('b64', 'A*')).not.toBeNull();
    expect(validateValue('chr', 'anything')).toBeNull();
  });

  it('round-trips ACL text in canonical order with * alone', () => {
    const g = parseAclText('Replace=b+a&Get=*&Add=a');
    expect(aclText(g)).toBe('Add=a&Get=*&Replace=b+a');
    expect(aclText({ ...g, Get: ['x', '*'] })).toBe('Add=a&Get=*&Replace=b+a');
    expect(aclText(parseAclText(''))).toBe('');
  });
});
