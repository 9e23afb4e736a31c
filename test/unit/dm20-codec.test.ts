/**
 * DM 2.0 JSON codec: every message kind and command round-trips; every way a package can be wrong
 * is a value naming the JSON path of the offending value.
 */
import { describe, expect, it } from 'vitest';
import {
  DM20_COMMANDS, decodeClientMessage, decodeServerPackage, encodeDm20, jsonPath, prettyDm20,
  type Dm20ClientMessage, type Dm20Command, type Dm20ServerPackage,
} from '../../main/protocol/dm20/index.js';

const enc = new TextEncoder();

const ALL_COMMANDS: Dm20Command[] = [
  { CmdID: 1, Cmd: 'GET', URI: './DevInfo/Mod' },
  { CmdID: 2, Cmd: 'PUT', URI: './DMAcc/dmw/Name', MOData: 'Lab', Format: 'chr', Type: 'text/plain' },
  { CmdID: 3, Cmd: 'DELETE', URI: './Vendor/Tmp' },
  { CmdID: 4, Cmd: 'EXEC', URI: './FUMO/Update', MOData: 'go', Correlator: 'c-1' },
  { CmdID: 5, Cmd: 'HGET', URI: './SCOMO/Pkg', DataURL: 'https://repo.example/pkg/1' },
  { CmdID: 6, Cmd: 'HPUT', URI: './DevDetail', DataURL: 'http://repo.example/up' },
  { CmdID: 7, Cmd: 'HPOST', URI: './DevDetail', DataURL: 'http://repo.example/up' },
  { CmdID: 8, Cmd: 'SHOW', URL: 'https://portal.example/welcome' },
  { CmdID: 9, Cmd: 'SUB', URI: './DevInfo' },
  { CmdID: 10, Cmd: 'UNSUB', URI: './DevInfo' },
  { CmdID: 11, Cmd: 'DEFAULT', URI: './DMAcc/dmw' },
  { CmdID: 12, Cmd: 'CONT' },
  { CmdID: 13, Cmd: 'END' },
];

const SERVER: Dm20ServerPackage = { Ver: '2.0', SID: '1A2B', Pkg: 2, CMD: ALL_COMMANDS };
const PKG1: Dm20ClientMessage = {
  Ver: '2.0', SID: '1A2B', DevID: 'IMEI:490154203237518', Pkg: 1, Init: 'server',
  MOS: [{ MOID: 'urn:oma:mo:oma-dm-devinfo:1.0', URI: './DevInfo' }],
  DevInfo: { Man: 'Acme', Mod: 'AM-X1' },
  Events: [{ Type: 'urn:oma:at:fumo:1.0:status', Source: './FUMO', Format: 'chr', Data: '200', Correlator: 'c-1' }],
};
const PKG3: Dm20ClientMessage = {
  Ver: '2.0', SID: '1A2B', DevID: 'IMEI:490154203237518', Pkg: 3,
  Results: [{ CmdRef: 1, Status: 200, URI: './DevInfo/Mod', MOData: 'AM-X1', Format: 'chr', Type: 'text/plain' }, { CmdRef: 2, Status: 425 }],
};

function bytes(o: unknown): Uint8Array {
  return enc.encode(JSON.stringify(o));
}

function clientError(o: unknown, opts = {}) {
  const r = decodeClientMessage(typeof o === 'string' || o instanceof Uint8Array ? o : bytes(o), opts);
  if (r.ok) throw new Error('expected an error');
  return r.error;
}

function serverError(o: unknown, opts = {}) {
  const r = decodeServerPackage(typeof o === 'string' || o instanceof Uint8Array ? o : bytes(o), opts);
  if (r.ok) throw new Error('expected an error');
  return r.error;
}

describe('DM 2.0 codec: round trips', () => {
  it('covers every command name', () => {
    expect(ALL_COMMANDS.map((c) => c.Cmd).sort()).toEqual([...DM20_COMMANDS].sort());
  });

  it.each([
    ['server package with every command', SERVER],
    ['package 1', PKG1],
    ['package 3', PKG3],
    ['minimal package 1', { Ver: '2.0', SID: '1', DevID: 'd', Pkg: 1 }],
    ['empty results', { Ver: '2.0', SID: '1', DevID: 'd', Pkg: 3, Results: [] }],
  ] as [string, Dm20ClientMessage | Dm20ServerPackage][])('%s', (_n, msg) => {
    const e = encodeDm20(msg);
    expect(e.ok).toBe(true);
    if (!e.ok) return;
    const back = msg.Pkg === 2 ? decodeServerPackage(e.value) : decodeClientMessage(e.value);
    expect(back).toEqual({ ok: true, value: msg });
    expect(JSON.parse(new TextDecoder().decode(e.value))).toEqual(msg);
  });

  it('reads a string as well as bytes, and pretty-prints for the log', () => {
    expect(decodeClientMessage(JSON.stringify(PKG3))).toEqual({ ok: true, value: PKG3 });
    expect(prettyDm20(bytes(PKG3))).toContain('\n  "Results": [');
    expect(prettyDm20(enc.encode('{nope'))).toBeNull();
  });

  it('ignores unknown fields only when asked to', () => {
    const withExtra = { ...PKG3, Vendor: { x: 1 } };
    expect(clientError(withExtra)).toEqual({ code: 'invalid', message: 'unknown field "Vendor"', path: '$.Vendor' });
    const r = decodeClientMessage(bytes(withExtra), { strict: false });
    expect(r.ok && r.value).toEqual(PKG3);
  });

  it('formats JSON paths', () => {
    expect(jsonPath([])).toBe('$');
    expect(jsonPath(['CMD', 3, 'URI'])).toBe('$.CMD[3].URI');
    expect(jsonPath(['DevInfo', 'odd key'])).toBe('$.DevInfo["odd key"]');
  });
});

describe('DM 2.0 codec: errors name the JSON path', () => {
  it('body over the size limit', () => {
    expect(clientError(PKG3, { limits: { maxMessageBytes: 20 } })).toMatchObject({ code: 'too-large', path: '$' });
    expect(clientError(JSON.stringify(PKG3), { limits: { maxMessageBytes: 20 } })).toMatchObject({ code: 'too-large' });
  });

  it('not UTF-8, not JSON', () => {
    expect(clientError(new Uint8Array([0x7b, 0xff, 0x7d]))).toMatchObject({ code: 'bad-charset', path: '$' });
    expect(clientError('{"Ver": ')).toMatchObject({ code: 'json-syntax', path: '$' });
    expect(serverError('')).toMatchObject({ code: 'json-syntax', path: '$' });
  });

  it.each([
    ['not an object', [1, 2], '$'],
    ['wrong version', { ...PKG3, Ver: '1.2' }, '$.Ver'],
    ['missing SID', { ...PKG3, SID: undefined }, '$.SID'],
    ['empty SID', { ...PKG3, SID: '' }, '$.SID'],
    ['missing DevID', { ...PKG3, DevID: undefined }, '$.DevID'],
    ['unknown package number', { ...PKG3, Pkg: 7 }, '$.Pkg'],
    ['server package sent by a client', SERVER, '$.Pkg'],
    ['results not a list', { ...PKG3, Results: {} }, '$.Results'],
    ['CmdRef not an integer', { ...PKG3, Results: [{ CmdRef: 1.5, Status: 200 }] }, '$.Results[0].CmdRef'],
    ['CmdRef zero', { ...PKG3, Results: [{ CmdRef: 0, Status: 200 }] }, '$.Results[0].CmdRef'],
    ['status not three digits', { ...PKG3, Results: [{ CmdRef: 1, Status: 2000 }] }, '$.Results[0].Status'],
    ['status missing', { ...PKG3, Results: [{ CmdRef: 1 }] }, '$.Results[0].Status'],
    ['MOData not a string', { ...PKG3, Results: [{ CmdRef: 1, Status: 200, MOData: 5 }] }, '$.Results[0].MOData'],
    ['unknown key in a result', { ...PKG3, Results: [{ CmdRef: 1, Status: 200, Data: 'x' }] }, '$.Results[0].Data'],
    ['bad Init', { ...PKG1, Init: 'both' }, '$.Init'],
    ['MO without MOID', { ...PKG1, MOS: [{ URI: './DevInfo' }] }, '$.MOS[0].MOID'],
    ['DevInfo value not a string', { ...PKG1, DevInfo: { Mod: 1 } }, '$.DevInfo.Mod'],
    ['event without Type', { ...PKG1, Events: [{ Data: 'x' }] }, '$.Events[0].Type'],
  ])('client: %s', (_n, msg, path) => {
    const e = clientError(msg);
    expect(e.code).toBe('invalid');
    expect(e.path).toBe(path);
    expect(e.message.length).toBeGreaterThan(0);
  });

  const cmd = (c: Record<string, unknown>) => ({ ...SERVER, CMD: [c] });
  it.each([
    ['no commands', { ...SERVER, CMD: [] }, '$.CMD'],
    ['CMD missing', { ...SERVER, CMD: undefined }, '$.CMD'],
    ['client package sent by a server', PKG1, '$.Pkg'],
    ['unknown command', cmd({ CmdID: 1, Cmd: 'COPY', URI: './a' }), '$.CMD[0].Cmd'],
    ['command without a name', cmd({ CmdID: 1, URI: './a' }), '$.CMD[0].Cmd'],
    ['GET without URI', cmd({ CmdID: 1, Cmd: 'GET' }), '$.CMD[0].URI'],
    ['GET with empty URI', cmd({ CmdID: 1, Cmd: 'GET', URI: '' }), '$.CMD[0].URI'],
    ['CmdID a string', cmd({ CmdID: '1', Cmd: 'END' }), '$.CMD[0].CmdID'],
    ['CmdID negative', cmd({ CmdID: -1, Cmd: 'END' }), '$.CMD[0].CmdID'],
    ['PUT with numeric MOData', cmd({ CmdID: 1, Cmd: 'PUT', URI: './a', MOData: 1 }), '$.CMD[0].MOData'],
    ['PUT with empty Format', cmd({ CmdID: 1, Cmd: 'PUT', URI: './a', Format: '' }), '$.CMD[0].Format'],
    ['HGET without DataURL', cmd({ CmdID: 1, Cmd: 'HGET', URI: './a' }), '$.CMD[0].DataURL'],
    ['HGET with a non-http DataURL', cmd({ CmdID: 1, Cmd: 'HGET', URI: './a', DataURL: 'ftp://x/y' }), '$.CMD[0].DataURL'],
    ['SHOW with a relative URL', cmd({ CmdID: 1, Cmd: 'SHOW', URL: '/welcome' }), '$.CMD[0].URL'],
    ['END with an extra field', cmd({ CmdID: 1, Cmd: 'END', URI: './a' }), '$.CMD[0].URI'],
  ])('server: %s', (_n, msg, path) => {
    const e = serverError(msg);
    expect(e.code).toBe('invalid');
    expect(e.path).toBe(path);
  });

  it('CmdIDs are unique within a package', () => {
    const e = serverError({ ...SERVER, CMD: [{ CmdID: 4, Cmd: 'GET', URI: './a' }, { CmdID: 5, Cmd: 'GET', URI: './b' }, { CmdID: 4, Cmd: 'END' }] });
    expect(e).toEqual({ code: 'invalid', message: 'CmdID 4 is used twice (first at $.CMD[0])', path: '$.CMD[2].CmdID' });
  });

  it('END is the last command', () => {
    const e = serverError({ ...SERVER, CMD: [{ CmdID: 1, Cmd: 'END' }, { CmdID: 2, Cmd: 'GET', URI: './a' }] });
    expect(e).toEqual({ code: 'invalid', message: 'END must be the last command of a package', path: '$.CMD[0]' });
  });

  it('counts over their limits', () => {
    expect(serverError(SERVER, { limits: { maxCommands: 3 } })).toMatchObject({ code: 'limit-exceeded', path: '$.CMD' });
    expect(clientError(PKG3, { limits: { maxResults: 1 } })).toMatchObject({ code: 'limit-exceeded', path: '$.Results' });
    expect(clientError(PKG1, { limits: { maxResults: 0 } })).toMatchObject({ code: 'limit-exceeded', path: '$.Events' });
  });

  it('the encoder refuses what a reader would refuse', () => {
    const bad = { ...SERVER, CMD: [{ CmdID: 1, Cmd: 'GET', URI: './a' }, { CmdID: 1, Cmd: 'END' }] } as Dm20ServerPackage;
    const r = encodeDm20(bad);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.path).toBe('$.CMD[1].CmdID');
    const big = encodeDm20(PKG3, { limits: { maxMessageBytes: 10 } });
    expect(!big.ok && big.error.code).toBe('too-large');
  });
});
