/**
 * The DM 2.0 server step: jobs -> package 2 commands, client results -> job outcomes in the DM 1.2
 * engine's shape, END when nothing is left, and the session's end releasing what was unanswered.
 */
import { describe, expect, it } from 'vitest';
import type { Dm20ClientMessage, Dm20Package1, Dm20Result } from '../../main/protocol/dm20/index.js';
import {
  closeDm20Session, dm20Step, jobCommands, openDm20Session, resultToJobResult, type Dm20ServerSession,
} from '../../main/server/dm20/index.js';
import type { EngineJob } from '../../main/server/engine.js';
import type { JobSpec } from '../../main/server/types.js';

const DEV = 'IMEI:490154203237518';
const PKG1: Dm20Package1 = {
  Ver: '2.0', SID: '1F', DevID: DEV, Pkg: 1, Init: 'client',
  MOS: [{ MOID: 'urn:oma:mo:oma-dm-devinfo:1.0', URI: './DevInfo' }],
  DevInfo: { Man: 'Acme', Mod: 'AM-X1' },
};
const results = (r: Dm20Result[]): Dm20ClientMessage => ({ Ver: '2.0', SID: '1F', DevID: DEV, Pkg: 3, Results: r });
const job = (id: number, spec: JobSpec): EngineJob => ({ id, spec });

function start(jobs: EngineJob[], limits = {}) {
  const s0 = openDm20Session(7, PKG1);
  return dm20Step(s0, { message: PKG1, queuedJobs: jobs, limits });
}

describe('DM 2.0 server step', () => {
  it('package 1 with nothing queued: END, session done, DevInfo and MOs recorded', () => {
    const out = start([]);
    expect(out.response).toEqual({ Ver: '2.0', SID: '1F', Pkg: 2, CMD: [{ CmdID: 1, Cmd: 'END' }] });
    expect(out.session.phase).toBe('closed');
    expect(out.effects.closed).toEqual({ state: 'done', reason: 'completed' });
    expect(out.effects.devInfo).toEqual({ Man: 'Acme', Mod: 'AM-X1' });
    expect(out.effects.tree).toEqual([{ uri: './DevInfo', format: 'node', type: 'urn:oma:mo:oma-dm-devinfo:1.0', data: null }]);
  });

  it('maps each job kind to DM 2.0 commands', () => {
    expect(jobCommands({ kind: 'get', uri: './DevInfo/Mod' })).toEqual({ commands: [{ Cmd: 'GET', URI: './DevInfo/Mod' }] });
    expect(jobCommands({ kind: 'replace', uri: './a', value: 'v' })).toEqual({ commands: [{ Cmd: 'PUT', URI: './a', MOData: 'v', Format: 'chr' }] });
    expect(jobCommands({ kind: 'add', uri: './a', value: 'AAE=', binary: true, type: 'application/octet-stream' })).toEqual({ commands: [{ Cmd: 'PUT', URI: './a', MOData: 'AAE=', Format: 'bin', Type: 'application/octet-stream' }] });
    expect(jobCommands({ kind: 'add', uri: './Vendor' })).toEqual({ commands: [{ Cmd: 'PUT', URI: './Vendor', Format: 'node' }] });
    expect(jobCommands({ kind: 'delete', uri: './a' })).toEqual({ commands: [{ Cmd: 'DELETE', URI: './a' }] });
    expect(jobCommands({ kind: 'exec', uri: './X/Op', data: 'go', correlator: 'c1' })).toEqual({ commands: [{ Cmd: 'EXEC', URI: './X/Op', MOData: 'go', Correlator: 'c1' }] });
    expect(jobCommands({ kind: 'read-acl', uri: './DMAcc' })).toEqual({ commands: [{ Cmd: 'GET', URI: './DMAcc?prop=ACL' }] });
    expect(jobCommands({ kind: 'discover', uri: './DevInfo' })).toEqual({ commands: [{ Cmd: 'GET', URI: './DevInfo?list=Struct' }] });
    expect(jobCommands({ kind: 'sequence', commands: [{ kind: 'get', uri: './a' }, { kind: 'delete', uri: './b' }] })).toEqual({ commands: [{ Cmd: 'GET', URI: './a' }, { Cmd: 'DELETE', URI: './b' }] });
    expect(jobCommands({ kind: 'atomic', commands: [{ kind: 'get', uri: './a' }] })).toHaveProperty('unsupported');
    expect(jobCommands({ kind: 'copy', uri: './a', source: './b' })).toHaveProperty('unsupported');
    expect(jobCommands({ kind: 'alert', alert: 'display', text: 'hi' })).toHaveProperty('unsupported');
    expect(jobCommands({ kind: 'sequence', commands: [{ kind: 'get', uri: './a' }, { kind: 'copy', uri: './a', source: './b' }] })).toHaveProperty('unsupported');
  });

  it('sends jobs, reads results back into the DM 1.2 job outcome shape, then ENDs', () => {
    const jobs = [job(1, { kind: 'get', uri: './DevInfo/Mod' }), job(2, { kind: 'replace', uri: './DMAcc/dmw/Name', value: 'Lab' }), job(3, { kind: 'get', uri: './DMAcc/other/Name' })];
    const p2 = start(jobs);
    expect(p2.response.CMD).toEqual([
      { CmdID: 1, Cmd: 'GET', URI: './DevInfo/Mod' },
      { CmdID: 2, Cmd: 'PUT', URI: './DMAcc/dmw/Name', MOData: 'Lab', Format: 'chr' },
      { CmdID: 3, Cmd: 'GET', URI: './DMAcc/other/Name' },
    ]);
    expect(p2.effects.jobsSent).toEqual([1, 2, 3]);
    expect(p2.session.phase).toBe('open');

    // The store would now list them as sent, not queued: no job is offered again.
    const p4 = dm20Step(p2.session, {
      message: results([
        { CmdRef: 1, Status: 200, URI: './DevInfo/Mod', MOData: 'AM-X1', Format: 'chr', Type: 'text/plain' },
        { CmdRef: 2, Status: 200 },
        { CmdRef: 3, Status: 425 },
      ]),
      queuedJobs: [],
    });
    expect(p4.effects.jobsFinished).toEqual([
      { id: 1, status: 'done', statusCode: 200, results: [{ uri: './DevInfo/Mod', format: 'chr', data: 'AM-X1', type: 'text/plain' }], members: [], error: null },
      { id: 2, status: 'done', statusCode: 200, results: [], members: [], error: null },
      { id: 3, status: 'failed', statusCode: 425, results: [], members: [], error: 'device answered 425' },
    ]);
    expect(p4.effects.tree).toEqual([{ uri: './DevInfo/Mod', format: 'chr', type: 'text/plain', data: 'AM-X1' }]);
    expect(p4.response.CMD).toEqual([{ CmdID: 4, Cmd: 'END' }]);
    expect(p4.effects.closed).toEqual({ state: 'done', reason: 'completed' });
    expect(p4.effects.jobsReleased).toEqual([]);
  });

  it('a job queued mid-session goes out in the next package', () => {
    const p2 = start([job(1, { kind: 'get', uri: './a' })]);
    const p4 = dm20Step(p2.session, { message: results([{ CmdRef: 1, Status: 200, MOData: 'x' }]), queuedJobs: [job(9, { kind: 'delete', uri: './b' })] });
    expect(p4.response.CMD).toEqual([{ CmdID: 2, Cmd: 'DELETE', URI: './b' }]);
    expect(p4.effects.jobsFinished.map((j) => j.id)).toEqual([1]);
    expect(p4.effects.jobsSent).toEqual([9]);
  });

  it('multi-item results (list=Struct) and binary data keep the 1.2 result shape', () => {
    const p2 = start([job(1, { kind: 'discover', uri: './DevInfo' }), job(2, { kind: 'get', uri: './Blob' })]);
    const p4 = dm20Step(p2.session, {
      message: results([
        { CmdRef: 1, Status: 200, URI: './DevInfo', MOData: '', Format: 'node' },
        { CmdRef: 1, Status: 200, URI: './DevInfo/Mod', MOData: '', Format: 'chr' },
        { CmdRef: 2, Status: 200, URI: './Blob', MOData: 'AAEC', Format: 'bin' },
      ]),
      queuedJobs: [],
    });
    const [discover, blob] = p4.effects.jobsFinished;
    expect(discover!.results.map((r) => r.uri)).toEqual(['./DevInfo', './DevInfo/Mod']);
    expect(blob!.results).toEqual([{ uri: './Blob', format: 'bin', data: 'AAEC', encoding: 'b64' }]);
  });

  it('a sequence is done with 200 and its members carry their own statuses', () => {
    const p2 = start([job(5, { kind: 'sequence', commands: [{ kind: 'get', uri: './a' }, { kind: 'delete', uri: './b' }] })]);
    expect(p2.response.CMD.map((c) => c.Cmd)).toEqual(['GET', 'DELETE']);
    const p4 = dm20Step(p2.session, { message: results([{ CmdRef: 1, Status: 200, MOData: 'x' }, { CmdRef: 2, Status: 404 }]), queuedJobs: [] });
    expect(p4.effects.jobsFinished[0]).toMatchObject({ id: 5, status: 'done', statusCode: 200, members: [{ cmd: 'GET', uri: './a', statusCode: 200 }, { cmd: 'DELETE', uri: './b', statusCode: 404 }] });
  });

  it('jobs with no DM 2.0 counterpart fail at once without being sent', () => {
    const out = start([job(1, { kind: 'atomic', commands: [{ kind: 'get', uri: './a' }] }), job(2, { kind: 'get', uri: './a' })]);
    expect(out.effects.jobsFinished).toEqual([{ id: 1, status: 'failed', statusCode: null, results: [], members: [], error: 'Atomic has no DM 2.0 counterpart (the command set has no transaction)' }]);
    expect(out.effects.jobsSent).toEqual([2]);
    expect(out.response.CMD).toEqual([{ CmdID: 1, Cmd: 'GET', URI: './a' }]);
  });

  it('a command left without a result fails its job; a result for an unknown CmdID is noted', () => {
    const p2 = start([job(1, { kind: 'get', uri: './a' }), job(2, { kind: 'get', uri: './b' })]);
    const p4 = dm20Step(p2.session, { message: results([{ CmdRef: 1, Status: 200, MOData: 'x' }, { CmdRef: 99, Status: 200 }]), queuedJobs: [] });
    expect(p4.effects.jobsFinished[1]).toEqual({ id: 2, status: 'failed', statusCode: null, results: [], members: [], error: 'the device sent no result for GET ./b (CmdID 2)' });
    expect(p4.effects.notes).toEqual(['result for CmdID 99, which is not waiting for an answer: ignored']);
  });

  it('respects maxCommandsPerPackage with whole jobs', () => {
    const jobs = [job(1, { kind: 'get', uri: './a' }), job(2, { kind: 'sequence', commands: [{ kind: 'get', uri: './b' }, { kind: 'get', uri: './c' }] }), job(3, { kind: 'get', uri: './d' })];
    const p2 = start(jobs, { maxCommandsPerPackage: 2 });
    expect(p2.response.CMD.map((c) => 'URI' in c && c.URI)).toEqual(['./a']);
    expect(p2.effects.jobsSent).toEqual([1]);
    // Jobs 2 and 3 are still queued in the store: the next step takes them.
    const p4 = dm20Step(p2.session, { message: results([{ CmdRef: 1, Status: 200, MOData: 'x' }]), queuedJobs: jobs.slice(1), limits: { maxCommandsPerPackage: 2 } });
    expect(p4.effects.jobsSent).toEqual([2]);
    expect(p4.response.CMD.map((c) => 'URI' in c && c.URI)).toEqual(['./b', './c']);
  });

  it('events become generic alerts (correlator kept for Exec jobs)', () => {
    const s0 = openDm20Session(1, PKG1);
    const m: Dm20Package1 = { ...PKG1, Events: [{ Type: 'urn:x:done', Source: './X', Data: '200', Correlator: 'c1' }] };
    const out = dm20Step(s0, { message: m, queuedJobs: [] });
    expect(out.effects.alerts).toEqual([{ code: '1226', correlator: 'c1', items: [{ type: 'urn:x:done', source: './X', data: '200' }] }]);
  });

  it('a closed session answers END and changes nothing', () => {
    const done = start([]).session;
    const again = dm20Step(done, { message: results([]), queuedJobs: [job(1, { kind: 'get', uri: './a' })] });
    expect(again.response.CMD).toEqual([{ CmdID: 2, Cmd: 'END' }]);
    expect(again.effects.jobsSent).toEqual([]);
    expect(again.effects.notes[0]).toMatch(/after the session ended/);
  });

  it('closing from outside releases jobs: sent ones as sent', () => {
    const p2 = start([job(1, { kind: 'get', uri: './a' })]);
    const { session, effects } = closeDm20Session(p2.session, 'timeout', 'no package for 300 s');
    expect(session.phase).toBe('closed');
    expect(effects.jobsReleased).toEqual([{ id: 1, wasSent: true, onWire: true }]);
    expect(effects.closed).toEqual({ state: 'timeout', reason: 'no package for 300 s' });
    expect(closeDm20Session(session, 'timeout', 'again').effects.jobsReleased).toEqual([]);
  });

  it('is pure: the input session is not changed', () => {
    const s0: Dm20ServerSession = openDm20Session(7, PKG1);
    const copy = structuredClone(s0);
    dm20Step(s0, { message: PKG1, queuedJobs: [job(1, { kind: 'get', uri: './a' })] });
    expect(s0).toEqual(copy);
  });

  it('refuses a package of another session (a caller bug)', () => {
    const s0 = openDm20Session(7, PKG1);
    expect(() => dm20Step(s0, { message: { ...PKG1, SID: 'FF' }, queuedJobs: [] })).toThrow(/given to session/);
  });

  it('resultToJobResult: no MOData, no result', () => {
    expect(resultToJobResult({ CmdRef: 1, Status: 200 }, './a')).toBeUndefined();
    expect(resultToJobResult({ CmdRef: 1, Status: 200, MOData: '' }, './a')).toEqual({ uri: './a', format: null, data: '' });
  });
});
