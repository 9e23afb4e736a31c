/**
 * Verifying a job whose earlier sending was never confirmed: the engine reads the node back and
 * sends the Add, Replace or Delete again only when the node shows it was not applied
 * (main/server/engine/read-back.ts). The store side (the `unconfirmed` state and the decisions)
 * is tested in server-store and the kill -9 integration test.
 */
import { describe, expect, it } from 'vitest';
import type { Item, ItemCommand } from '../../main/protocol/model.js';
import type { EngineJob } from '../../main/server/engine.js';
import type { SimpleJobSpec } from '../../main/server/types.js';
import { commandsOf, Harness } from '../helpers/engine-harness.js';

const text = (uri: string, value: string): Item => ({ source: { locURI: uri }, meta: { format: 'chr' }, data: { kind: 'text', text: value } });

/** One verified job through package 1 and the read-back; returns the answer to the read-back. */
function readBack(spec: SimpleJobSpec, code: number, value?: string) {
  const h = new Harness();
  h.jobs = [{ id: 7, spec, verify: true } satisfies EngineJob];
  const p2 = h.send(h.pkg1());
  const sent = commandsOf(p2) as ItemCommand[];
  expect(sent.map((c) => [c.kind, c.items[0]!.target!.locURI])).toEqual([['Get', (spec as { uri: string }).uri]]);
  expect(p2.effects.jobsSent).toEqual([7]);
  const p3 = h.send(h.answer(p2, { code: () => code, value: (uri) => (value === undefined ? undefined : text(uri, value)) }));
  return { h, p3 };
}

describe('verify: read the node back, then decide', () => {
  it('Replace: the node holds the value -> done, the Replace is not sent again', () => {
    const { p3 } = readBack({ kind: 'replace', uri: './Vendor/Volume', value: '5' }, 200, '5');
    expect(commandsOf(p3)).toEqual([]);
    expect(p3.effects.jobsFinished).toEqual([{ id: 7, status: 'done', statusCode: 200, results: [], members: [{ cmd: 'Get', uri: './Vendor/Volume', statusCode: 200 }], error: null }]);
    expect(p3.effects.notes.join('\n')).toMatch(/holds the value, so the Replace was applied; not sent again/);
    expect(p3.effects.closed?.state).toBe('done');
  });

  it('Replace: another value -> the Replace goes out, and its own Status settles the job', () => {
    const { h, p3 } = readBack({ kind: 'replace', uri: './Vendor/Volume', value: '5' }, 200, '3');
    const replace = commandsOf(p3) as ItemCommand[];
    expect(replace.map((c) => [c.kind, c.items[0]!.data])).toEqual([['Replace', { kind: 'text', text: '5' }]]);
    expect(p3.effects.jobsFinished).toEqual([]);
    const p4 = h.send(h.answer(p3));
    expect(p4.effects.jobsFinished[0]).toMatchObject({ id: 7, status: 'done', statusCode: 200, members: [{ cmd: 'Get', statusCode: 200 }] });
  });

  it('Add: missing -> the Add goes out; there with the value -> done; there with another value -> failed 418, not sent', () => {
    const add: SimpleJobSpec = { kind: 'add', uri: './Vendor/New', value: 'x' };
    const missing = readBack(add, 404);
    expect(commandsOf(missing.p3).map((c) => c.kind)).toEqual(['Add']);
    const same = readBack(add, 200, 'x');
    expect(same.p3.effects.jobsFinished[0]).toMatchObject({ status: 'done', statusCode: 200 });
    const other = readBack(add, 200, 'y');
    expect(commandsOf(other.p3)).toEqual([]);
    expect(other.p3.effects.jobsFinished[0]).toMatchObject({ status: 'failed', statusCode: 418 });
    expect(other.p3.effects.jobsFinished[0]!.error).toMatch(/exists with another value .*"y"/);
    // An interior node: existing is enough.
    const interior = readBack({ kind: 'add', uri: './Vendor/Dir' }, 200, 'a/b');
    expect(interior.p3.effects.jobsFinished[0]).toMatchObject({ status: 'done' });
  });

  it('Delete: gone -> done; still there -> the Delete goes out', () => {
    const gone = readBack({ kind: 'delete', uri: './Vendor/Old' }, 404);
    expect(gone.p3.effects.jobsFinished[0]).toMatchObject({ status: 'done', statusCode: 200, members: [{ cmd: 'Get', statusCode: 404 }] });
    const there = readBack({ kind: 'delete', uri: './Vendor/Old' }, 200, 'v');
    expect(commandsOf(there.p3).map((c) => c.kind)).toEqual(['Delete']);
  });

  it('a read-back the device refuses decides nothing: the job fails saying so and is not sent', () => {
    const { p3 } = readBack({ kind: 'replace', uri: './Vendor/Secret', value: '1' }, 425);
    expect(commandsOf(p3)).toEqual([]);
    expect(p3.effects.jobsFinished[0]).toMatchObject({ status: 'failed', statusCode: 425 });
    expect(p3.effects.jobsFinished[0]!.error).toMatch(/could not verify: the read-back Get of \.\/Vendor\/Secret was answered 425/);
  });

  it('binary values compare as bytes', () => {
    const h = new Harness({ encoding: 'wbxml' });
    h.jobs = [{ id: 1, spec: { kind: 'replace', uri: './Vendor/Blob', value: 'AAEC/w==', binary: true }, verify: true }];
    const p2 = h.send(h.pkg1());
    const p3 = h.send(h.answer(p2, { value: (uri) => ({ source: { locURI: uri }, meta: { format: 'bin' }, data: { kind: 'binary', bytes: new Uint8Array([0, 1, 2, 255]) } }) }));
    expect(p3.effects.jobsFinished[0]).toMatchObject({ status: 'done' });
  });

  it('a session that ends after only the read-back went out releases the job as not sent (nothing was applied)', () => {
    const h = new Harness();
    h.jobs = [{ id: 3, spec: { kind: 'delete', uri: './Vendor/Old' }, verify: true }];
    h.send(h.pkg1());
    const closed = h.engine.close(h.session!, 'timeout', 'no message for 300 s');
    expect(closed.effects.jobsReleased).toEqual([{ id: 3, wasSent: false, onWire: true }]);
    // Once the Delete itself went out, it was sent.
    const h2 = new Harness();
    h2.jobs = [{ id: 3, spec: { kind: 'delete', uri: './Vendor/Old' }, verify: true }];
    const p2 = h2.send(h2.pkg1());
    h2.send(h2.answer(p2, { value: (uri) => text(uri, 'v') }));
    expect(h2.engine.close(h2.session!, 'timeout', 'x').effects.jobsReleased).toEqual([{ id: 3, wasSent: true, onWire: true }]);
  });

  it('an Exec flagged for verify is sent as it is (it cannot be read back), with a note', () => {
    const h = new Harness();
    h.jobs = [{ id: 4, spec: { kind: 'exec', uri: './FUMO/Update' }, verify: true }];
    const p2 = h.send(h.pkg1());
    expect(commandsOf(p2).map((c) => c.kind)).toEqual(['Exec']);
    expect(p2.effects.notes.join('\n')).toMatch(/cannot be verified by reading/);
  });
});
