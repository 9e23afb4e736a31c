import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Backend } from '../../main/api/backend.js';
import { CHANNELS, EVENTS } from '../../main/api/channels.js';
import { contract, eventSchemas } from '../../main/api/contract.js';
import { dispatch } from '../../main/api/dispatch.js';

describe('the contract', () => {
  it('has a schema for every channel name and event, and nothing else', () => {
    expect(Object.keys(contract).sort()).toEqual([...CHANNELS].sort());
    expect(Object.keys(eventSchemas).sort()).toEqual([...EVENTS].sort());
  });

  it('refuses job specs the server would refuse', () => {
    const input = contract['jobs.add'].input;
    expect(input.safeParse({ device: 'IMEI:1', spec: { kind: 'get', uri: './DevInfo/Mod' } }).success).toBe(true);
    expect(input.safeParse({ device: 'IMEI:1', spec: { kind: 'get', uri: '/abs' } }).success).toBe(false);
    expect(input.safeParse({ device: 'IMEI:1', spec: { kind: 'launch', uri: '.' } }).success).toBe(false);
    expect(input.safeParse({ device: 'IMEI:1', spec: { kind: 'get', uri: '.' }, extra: 1 }).success).toBe(false);
  });
});

describe('dispatch', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-api-'));
  const backend = Backend.create({ dataDir: dir, handsets: { ok: false, reason: 'no handsets in this test' } });
  afterAll(async () => (await backend).close());

  it('has a backend handler for every channel', async () => {
    const b = await backend;
    for (const c of CHANNELS) expect(typeof b.handlers[c], c).toBe('function');
  });

  it('refuses unknown channels and bad input with a typed error', async () => {
    const b = await backend;
    expect(await dispatch(b.handlers, 'fs.readFile', {})).toEqual({ ok: false, error: { code: 'bad-channel', message: expect.stringContaining('unknown channel') } });
    const r = await dispatch(b.handlers, 'sessions.get', { id: 'one' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('bad-input');
  });

  it('turns a handler failure into a failed reply, not a crash', async () => {
    const b = await backend;
    const r = await dispatch(b.handlers, 'sessions.get', { id: 999 });
    expect(r).toEqual({ ok: false, error: { code: 'failed', message: 'no session 999' } });
  });

  it('answers with data that passes the output schema', async () => {
    const b = await backend;
    const r = await dispatch(b.handlers, 'server.status', {});
    expect(r.ok).toBe(true);
    if (r.ok) expect(contract['server.status'].output.parse(r.value).running).toBe(false);
  });

  it('reports the missing handset module as a reason, with the controls unavailable', async () => {
    const b = await backend;
    const r = await dispatch(b.handlers, 'handsets.status', {});
    expect(r).toMatchObject({ ok: true, value: { available: false, reason: 'no handsets in this test', handsets: [] } });
    const add = await dispatch(b.handlers, 'handsets.add', { count: 1 });
    expect(add).toMatchObject({ ok: false, error: { code: 'failed' } });
  });
});
