/**
 * The management API against hostile input (issue 14, the lower points): an answer that comes before
 * the body (401, 413, 415) is given as soon as the headers are read and the rest is never read (a
 * 50 MB body was read to the end first); device ids with NUL, CR/LF, a bidi override or a zero-width
 * character are refused naming the field and the position, with one length limit everywhere; job
 * URIs with `..`, empty segments, controls or a scheme are refused naming the URI and the position,
 * through the API, `dmw job add` and the store alike.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer } from '../../main/server/server.js';
import { attachApi, buildAuthConfig } from '../../main/server/api/index.js';
import { MAX_DEVICE_ID_LENGTH, deviceIdProblem } from '../../main/protocol/device-id.js';
import { JobSpecError, MAX_JOB_URI_LENGTH, parseJobSpec } from '../../main/server/jobs.js';
import { ServerStore } from '../../main/store/server-store.js';
import { REPO_ROOT } from '../helpers/tools.js';

const OP = 'operator-token-0123456789';
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'dmw-api-in-'));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function setup() {
  const server = await DmServer.start({ dataDir: tmp(), port: 0, host: '127.0.0.1', serverId: 'srvA' });
  const api = attachApi(server, { auth: buildAuthConfig({ apiToken: OP, peers: [], serverId: 'srvA' }), maxBodyBytes: 64 * 1024 });
  cleanup.push(async () => {
    api.close();
    await server.close();
  });
  // The server's side of each API connection: how much it read.
  const sockets: net.Socket[] = [];
  const hook = server.httpHook!;
  server.httpHook = (req, res) => {
    sockets.push(req.socket);
    return hook(req, res);
  };
  const call = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${server.port}${p}`, {
      method, headers: { authorization: `Bearer ${OP}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: r.status, json: (await r.json()) as any };
  };
  return { server, sockets, call };
}

/**
 * Sends the head of a request announcing `bodyBytes`, then the body in 64 KiB pieces for as long as
 * the server takes them. Resolves with the answer's status line, what was written, and whether the
 * server closed the connection before the body was complete.
 */
function bigUpload(port: number, head: string, bodyBytes: number): Promise<{ statusLine: string; written: number; cut: boolean; answeredAt: number }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const piece = Buffer.alloc(64 * 1024, 0x61);
    let got = '';
    let written = 0;
    let answeredAt = -1;
    let closed = false;
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      if (answeredAt < 0) answeredAt = written;
      got += d;
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      resolve({ statusLine: got.split('\r\n')[0]!, written, cut: written < bodyBytes, answeredAt });
    });
    s.write(`${head}Content-Length: ${bodyBytes}\r\n\r\n`);
    const pump = () => {
      while (!closed && written < bodyBytes) {
        written += piece.length;
        if (!s.write(piece)) {
          s.once('drain', pump);
          return;
        }
      }
      // All sent (the old behaviour): the server kept the connection; hang up to finish.
      if (!closed) setTimeout(() => s.end(), 200);
    };
    pump();
  });
}

describe('management API: answers before the body', () => {
  it('401 goes out when the headers are read, and the 50 MB body is never read', async () => {
    const { server, sockets } = await setup();
    const size = 50 * 1024 * 1024;
    const r = await bigUpload(server.port, 'POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n', size);
    expect(r.statusLine).toBe('HTTP/1.1 401 Unauthorized');
    expect(r.answeredAt).toBeLessThan(size);
    expect(r.cut).toBe(true);
    expect(sockets[0]!.bytesRead).toBeLessThan(8 * 1024 * 1024);
  });

  it('413 (announced length over the limit) and 415 (not JSON) do not read the body either', async () => {
    const { server, sockets } = await setup();
    const size = 50 * 1024 * 1024;
    const auth = `Authorization: Bearer ${OP}\r\n`;
    const tooLarge = await bigUpload(server.port, `POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\n`, size);
    expect(tooLarge.statusLine).toBe('HTTP/1.1 413 Payload Too Large');
    expect(tooLarge.cut).toBe(true);
    const notJson = await bigUpload(server.port, `POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: text/plain\r\n`, size);
    expect(notJson.statusLine).toBe('HTTP/1.1 415 Unsupported Media Type');
    expect(notJson.cut).toBe(true);
    for (const s of sockets) expect(s.bytesRead).toBeLessThan(8 * 1024 * 1024);
  });

  it('a small request still gets its answer on a connection that stays open', async () => {
    const { call } = await setup();
    expect((await call('GET', '/api/v1/server')).status).toBe(200);
    const r = await fetch(`http://127.0.0.1:${(await setup()).server.port}/api/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(r.status).toBe(401);
    expect(r.headers.get('connection')).not.toBe('close');
  });
});

describe('management API: device ids', () => {
  const hostile: Array<[string, string, number, string]> = [
    ['NUL', 'IMEI:1\u0000x', 7, 'U+0000'],
    ['CR/LF', 'IMEI:1\r\nX-Injected: 1', 7, 'U+000D'],
    ['a right-to-left override', 'IMEI:\u202e9083', 6, 'U+202E'],
    ['a zero-width space', 'IMEI:1\u200b', 7, 'U+200B'],
    ['a line separator', 'IMEI:1\u2028', 7, 'U+2028'],
    ['a C1 control', 'IMEI:\u00851', 6, 'U+0085'],
  ];

  it.each(hostile)('%s is refused in POST /jobs, PUT /devices, GET /devices and ?device=, naming the field and the position', async (_, id, position, codePoint) => {
    const { call } = await setup();
    const expected = new RegExp(`character ${position} is ${codePoint.replace('+', '\\+')}`);
    const job = await call('POST', '/api/v1/jobs', { device: id, spec: { kind: 'get', uri: './DevInfo/Mod' } });
    expect(job.status).toBe(400);
    expect(job.json.error).toMatchObject({ code: 'invalid', field: 'device' });
    expect(job.json.error.message).toMatch(expected);
    const put = await call('PUT', `/api/v1/devices/${encodeURIComponent(id)}`, { notifyUrl: null });
    expect(put.status).toBe(400);
    expect(put.json.error).toMatchObject({ code: 'invalid', field: 'devId' });
    expect(put.json.error.message).toMatch(expected);
    expect((await call('GET', `/api/v1/devices/${encodeURIComponent(id)}`)).json.error).toMatchObject({ status: 400, field: 'devId' });
    expect((await call('GET', `/api/v1/jobs?device=${encodeURIComponent(id)}`)).json.error).toMatchObject({ status: 400, field: 'device' });
    expect((await call('GET', `/api/v1/events?device=${encodeURIComponent(id)}`)).json.error).toMatchObject({ status: 400, field: 'device' });
  });

  it(`one length limit (${MAX_DEVICE_ID_LENGTH}) for PUT /devices and POST /jobs`, async () => {
    const { call } = await setup();
    const longest = `IMEI:${'1'.repeat(MAX_DEVICE_ID_LENGTH - 5)}`;
    const over = `${longest}2`;
    expect((await call('PUT', `/api/v1/devices/${encodeURIComponent(longest)}`, { notifyUrl: null })).status).toBe(200);
    expect((await call('POST', '/api/v1/jobs', { device: longest, spec: { kind: 'get', uri: './DevInfo/Mod' } })).status).toBe(201);
    const put = await call('PUT', `/api/v1/devices/${encodeURIComponent(over)}`, { notifyUrl: null });
    expect(put.status).toBe(400);
    expect(put.json.error.message).toBe(`devId: is ${MAX_DEVICE_ID_LENGTH + 1} characters long, over the limit of ${MAX_DEVICE_ID_LENGTH}`);
    const job = await call('POST', '/api/v1/jobs', { device: over, spec: { kind: 'get', uri: './DevInfo/Mod' } });
    expect(job.status).toBe(400);
    expect(job.json.error.message).toBe(`device: is ${MAX_DEVICE_ID_LENGTH + 1} characters long, over the limit of ${MAX_DEVICE_ID_LENGTH}`);
  });

  it('ordinary ids pass: IMEI, MEID, a URN, non-ASCII letters', () => {
    for (const id of ['IMEI:356938035643809', 'MEID:A0000000000001', 'urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66', 'Gerät-7 (Labor)']) expect(deviceIdProblem(id)).toBeUndefined();
  });
});

describe('job URIs', () => {
  const bad: Array<[string, string, string, RegExp]> = [
    ['`..`', './A/../../DMAcc', 'uri', /"\.\." is only allowed as the leading '\.' of the URI \(segment 2, at character 5\)/],
    ['`.`', './A/./B', 'uri', /"\." is only allowed .* \(segment 2, at character 5\)/],
    ['NUL', './A\u0000B', 'uri', /"\.\/A\\u0000B": character 4 is U\+0000/],
    ['U+202E', './A\u202eB', 'uri', /"\.\/A\\u\{202E\}B": character 4 is U\+202E/],
    ['a scheme', 'http://evil.example/x', 'uri', /not a URI with a scheme \("http:" at character 1\)/],
    ['an empty segment', './A//B', 'uri', /empty segment \('\/\/'\) \(segment 2, at character 5\)/],
    ['a trailing /', './A/', 'uri', /cannot end with '\/'/],
    ['a leading /', '/DevInfo', 'uri', /cannot start with '\/'/],
    ['too long', `./${'A'.repeat(MAX_JOB_URI_LENGTH)}`, 'uri', new RegExp(`over the limit of ${MAX_JOB_URI_LENGTH}`)],
  ];

  it.each(bad)('parseJobSpec refuses %s, naming the field, the URI and the position', (_, uri, field, why) => {
    let err: unknown;
    try {
      parseJobSpec({ kind: 'get', uri });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JobSpecError);
    expect((err as JobSpecError).field).toBe(field);
    expect((err as Error).message).toMatch(why);
  });

  it('Copy sources and Atomic members are checked the same way; discover and read-acl take no query of their own', () => {
    expect(() => parseJobSpec({ kind: 'copy', uri: './A', source: './B/..' })).toThrow(/"source" is not a DM URI: "\.\/B\/\.\.":/);
    try {
      parseJobSpec({ kind: 'atomic', commands: [{ kind: 'get', uri: './ok' }, { kind: 'delete', uri: './A/../B' }] });
      expect.unreachable();
    } catch (e) {
      expect((e as JobSpecError).field).toBe('commands.1.uri');
    }
    expect(() => parseJobSpec({ kind: 'discover', uri: './A?list=Struct' })).toThrow(/takes no query/);
  });

  it('legitimate URIs still pass', () => {
    for (const uri of ['.', './', './DevInfo/Mod', 'DevInfo/Mod', './Vendor/x', './A?prop=ACL', './A?list=Struct', './IMEI:1/x', './Gerät/Wert', './A%20B']) {
      expect(() => parseJobSpec({ kind: 'get', uri })).not.toThrow();
    }
    expect(parseJobSpec({ kind: 'copy', uri: './A', source: './B' })).toEqual({ kind: 'copy', uri: './A', source: './B' });
    expect(parseJobSpec({ kind: 'discover', uri: './Vendor' })).toEqual({ kind: 'discover', uri: './Vendor' });
  });

  it('POST /jobs answers 400 naming spec.uri and the position', async () => {
    const { call } = await setup();
    const r = await call('POST', '/api/v1/jobs', { device: 'IMEI:1', spec: { kind: 'replace', uri: './A/../../DMAcc/x/AppAuth', value: 'x' } });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'invalid', field: 'spec.uri' });
    expect(r.json.error.message).toMatch(/^spec\.uri: is not a DM URI: "\.\/A\/\.\.\/\.\.\/DMAcc\/x\/AppAuth": "\.\." is only allowed .* at character 5\)$/);
    const scheme = await call('POST', '/api/v1/jobs', { device: 'IMEI:1', spec: { kind: 'atomic', commands: [{ kind: 'get', uri: './A' }, { kind: 'get', uri: 'http://x/y' }] } });
    expect(scheme.json.error).toMatchObject({ status: 400, field: 'spec.commands.1.uri' });
  });

  it('`dmw job add` and the store refuse them too', () => {
    const data = tmp();
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'main/cli/bin.mjs'), 'job', 'add', '--data', data, '--device', 'IMEI:1', 'get', './A/../../DMAcc'], { timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.toString()).toMatch(/^dmw: "uri" is not a DM URI: "\.\/A\/\.\.\/\.\.\/DMAcc": .*at character 5\)\n$/);
    const store = ServerStore.open(path.join(tmp(), 'store.db'));
    try {
      expect(() => store.addJob('IMEI:1', { kind: 'get', uri: './A\u0000B' }, Date.now())).toThrow(/character 4 is U\+0000/);
    } finally {
      store.close();
    }
  });
});
