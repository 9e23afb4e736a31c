// @vitest-environment happy-dom
/**
 * The Server view's "Before authentication" panel: what the DM server refused before devices
 * authenticated (issue 14, point 4), from the `server.authFailures` channel.
 */
import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthFailures as AuthFailuresData, DmwApi } from '../../main/api/contract.js';
import { AuthFailures } from '../../renderer/components/AuthFailures.js';
import { StoreProvider } from '../../renderer/hooks/store.js';
import { createAppStore } from '../../renderer/stores/app-store.js';
import { fakeApi } from '../helpers/fake-api.js';

afterEach(cleanup);

const at = new Date().toISOString();
const sample: AuthFailuresData = {
  recent: [
    { at, firstAt: at, kind: 'throttled', address: '127.0.0.2', devId: 'IMEI:123', credential: 'lab', reason: 'too many failed authentications from 127.0.0.2', count: 195 },
    { at, firstAt: at, kind: 'auth-failed', address: '127.0.0.2', devId: 'IMEI:9', credential: 'lab', reason: 'client authentication failed (401): wrong name or password', count: 1 },
  ],
  counts: { 'auth-failed': 5, throttled: 195, locked: 0, refused: 0, 'session-over': 0, busy: 0, rejected: 0 },
  throttled: { addresses: [{ address: '127.0.0.2', tokens: 0, lastFailureAt: at }], credentials: [{ credential: 'lab', tokens: 3 }], goodStanding: 1 },
  sessions: { authenticated: 2, maxSessions: 256, preAuth: 5, maxPreAuthSessions: 256, maxPreAuthSessionsPerAddress: 16 },
};

async function mount(api: DmwApi) {
  const store = createAppStore({ api });
  render(<StoreProvider store={store} api={api}><AuthFailures /></StoreProvider>);
  await act(async () => {});
}

describe('Before authentication panel', () => {
  it('shows the pools, what is throttled, and the recent refusals with their counts', async () => {
    await mount(fakeApi({ 'server.authFailures': () => sample }));
    expect(screen.getByTestId('auth-pools').textContent).toBe('2 of 256 authenticated; 5 of 256 waiting to authenticate (16 per address)');
    expect(screen.getByTestId('auth-counts').textContent).toBe('wrong credentials: 5, refused unchecked: 195');
    // The credential still has tokens: only the address is throttled.
    expect(screen.getByTestId('auth-throttled').textContent).toBe('address 127.0.0.2');
    const rows = screen.getByTestId('auth-recent').querySelectorAll('tbody tr');
    expect(rows).toHaveLength(2);
    expect(rows[0]!.textContent).toContain('195');
    expect(rows[1]!.textContent).toContain('wrong name or password');
  });

  it('says so when the server is stopped, and shows a failed call', async () => {
    await mount(fakeApi({ 'server.authFailures': () => null }));
    expect(screen.getByText('The server is stopped.')).toBeTruthy();
    cleanup();
    await mount(fakeApi());
    expect(screen.getByText('server.authFailures not faked')).toBeTruthy();
  });
});
