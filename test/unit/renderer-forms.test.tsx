// @vitest-environment happy-dom
/**
 * Issue 18 points 5 and 6 in the renderer, without a browser: the Field shows its error as typed,
 * the device list's order, and notices that count repeats instead of stacking.
 */
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceSummary } from '../../main/api/contract.js';
import { handsetCountProblem } from '../../main/api/form-rules.js';
import { Field } from '../../renderer/components/Field.js';
import { createAppStore, MAX_NOTICES } from '../../renderer/stores/app-store.js';
import { sortDevices } from '../../renderer/views/DevicesView.js';
import { fakeApi } from '../helpers/fake-api.js';

afterEach(cleanup);

function Count() {
  const [v, setV] = useState('1');
  return <><Field label="How many" value={v} onChange={setV} validate={handsetCountProblem} testId="n" /><button disabled={handsetCountProblem(v) !== null}>Add</button></>;
}

describe('Field', () => {
  it('shows the reason next to the input as it is typed, and the form can disable Save', () => {
    render(<Count />);
    const input = screen.getByTestId('n');
    expect(screen.queryByTestId('n-error')).toBeNull();
    fireEvent.change(input, { target: { value: '2.5' } });
    expect(screen.getByTestId('n-error').textContent).toBe('"2.5" is not a whole number (1 to 100)');
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(input.getAttribute('aria-describedby')).toBe(screen.getByTestId('n-error').id);
    expect((screen.getByRole('button', { name: 'Add' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(input, { target: { value: '3' } });
    expect(screen.queryByTestId('n-error')).toBeNull();
    expect((screen.getByRole('button', { name: 'Add' }) as HTMLButtonElement).disabled).toBe(false);
  });
});

const device = (devId: string, lastSessionId: number | null): DeviceSummary => ({
  devId, model: null, manufacturer: null, devInfo: {}, firstSeen: '', lastSeen: '',
  lastSession: lastSessionId === null ? null : { id: lastSessionId, state: 'done', startedAt: '', endedAt: null },
  state: 'idle', paused: false, hasOwnCredentials: false, virtual: false, notifyUrl: null,
  jobs: { queued: 0, sent: 0, done: 0, failed: 0, held: 0 },
} as unknown as DeviceSummary);

describe('sortDevices', () => {
  it('keeps DevId order whatever order the backend sends (newest seen first)', () => {
    const a = device('IMEI:1', 9);
    const b = device('IMEI:2', 3);
    const c = device('IMEI:3', 5);
    const ids = (l: DeviceSummary[]) => l.map((d) => d.devId);
    expect(ids(sortDevices([c, a, b], { column: 'devId', desc: false }))).toEqual(['IMEI:1', 'IMEI:2', 'IMEI:3']);
    expect(ids(sortDevices([b, c, a], { column: 'devId', desc: false }))).toEqual(['IMEI:1', 'IMEI:2', 'IMEI:3']);
    expect(ids(sortDevices([a, b, c], { column: 'devId', desc: true }))).toEqual(['IMEI:3', 'IMEI:2', 'IMEI:1']);
    expect(ids(sortDevices([a, b, c], { column: 'lastSession', desc: true }))).toEqual(['IMEI:1', 'IMEI:3', 'IMEI:2']);
    // Ties (no model anywhere) fall back to DevId, so equal rows never swap.
    expect(ids(sortDevices([c, b, a], { column: 'model', desc: false }))).toEqual(['IMEI:1', 'IMEI:2', 'IMEI:3']);
  });
});

describe('notices', () => {
  it('counts a repeated error instead of stacking it, and keeps at most MAX_NOTICES', () => {
    const store = createAppStore({ api: fakeApi({}) });
    const { notify } = store.getState();
    notify('error', 'could not start');
    notify('error', 'could not start');
    expect(store.getState().notices).toHaveLength(1);
    expect(store.getState().notices[0]).toMatchObject({ kind: 'error', text: 'could not start', count: 2 });
    for (let i = 0; i < 5; i++) notify('error', `other ${i}`);
    expect(store.getState().notices).toHaveLength(MAX_NOTICES);
    expect(store.getState().notices.at(-1)!.text).toBe('other 4');
    store.getState().dismiss(store.getState().notices[0]!.id);
    expect(store.getState().notices).toHaveLength(MAX_NOTICES - 1);
  });
});
