/**
 * Bootstrap view (issue 18 point 6, "Also"): the defaults target the running lab server, not
 * example.com; profiles save to and load from the store `dmw bootstrap` uses, and round-trip through
 * the editor's fields; the check carries the WBXML for the download.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkProfile, listStoredProfiles, loadStoredProfile, saveStoredProfile } from '../../main/api/bootstrap-view.js';
import type { ServerStatus } from '../../main/api/contract.js';
import { ProfileStore } from '../../main/bootstrap/store.js';
import { DEFAULT_PROFILE, draftToProfile, labProfileDraft, profileToDraft } from '../../renderer/stores/bootstrap-slice.js';

const status = (over: Partial<ServerStatus['settings']> = {}, url: string | null = 'http://127.0.0.1:41234/dm'): ServerStatus => ({
  running: url !== null, url, port: url ? 41234 : null, startedAt: null, dataDir: '/tmp/x', error: null, caExists: false, activeSessions: 0,
  settings: {
    port: 0, host: '127.0.0.1', tls: false, clientCerts: 'optional', serverId: 'dmw', clientAuth: 'none', defaultClientCred: null, serverCred: null, serverAuth: 'md5',
    requireClientCert: false, publicUrl: null, sessionTimeoutSec: 300, maxMsgSize: 1 << 20, ...over,
  },
});

describe('labProfileDraft', () => {
  it('targets the running lab server: its URL and port, ServerID and server auth', () => {
    const d = { ...DEFAULT_PROFILE, ...labProfileDraft(status()) };
    expect(d).toMatchObject({ serverId: 'dmw', address: 'http://127.0.0.1:41234/dm', port: '41234', serverName: 'dmw', serverType: 'DIGEST', account: 'dmw' });
    expect(JSON.stringify(d)).not.toContain('example.com');
    expect(checkProfile(draftToProfile(d)).check.ok).toBe(true);
  });

  it('prefers the public URL, and takes the credentials the server has', () => {
    const d = labProfileDraft(status({ publicUrl: 'https://lab.test/dm', serverCred: { name: 'srv', secret: 's3' }, clientAuth: 'hmac', defaultClientCred: { name: 'dev', secret: 'c3' } }));
    expect(d).toMatchObject({ address: 'https://lab.test/dm', port: '443', serverName: 'srv', serverSecret: 's3', clientType: 'HMAC', authPref: 'HMAC', clientName: 'dev', clientSecret: 'c3' });
  });

  it('is null while the server is not running', () => {
    expect(labProfileDraft(status({}, null))).toBeNull();
    expect(labProfileDraft(null)).toBeNull();
  });
});

describe('stored profiles', () => {
  it('saves, lists and loads back into the same fields; a bad profile is not stored', () => {
    const store = new ProfileStore(mkdtempSync(path.join(os.tmpdir(), 'dmw-profiles-')));
    const draft = { ...DEFAULT_PROFILE, ...labProfileDraft(status()), prefConRef: 'NAP1' };
    const r = saveStoredProfile('lab', draftToProfile(draft), store);
    expect(r).toMatchObject({ ok: true, id: 'lab', errors: [] });
    expect(listStoredProfiles(store).profiles).toEqual([{ id: 'lab', serverId: 'dmw', address: 'http://127.0.0.1:41234/dm', error: null }]);
    expect(profileToDraft(loadStoredProfile('lab', store).profile)).toEqual({ draft, ignored: [] });
    const bad = saveStoredProfile('bad', draftToProfile({ ...draft, port: '0' }), store);
    expect(bad.ok).toBe(false);
    expect(bad.errors.map((e) => e.field)).toContain('port');
    expect(listStoredProfiles(store).profiles.map((p) => p.id)).toEqual(['lab']);
    expect(() => loadStoredProfile('nope', store)).toThrow(/no stored profile "nope"/);
  });

  it('carries the WBXML of a valid profile for the download', () => {
    const c = checkProfile(draftToProfile(DEFAULT_PROFILE)).check;
    expect(Buffer.from(c.wbxml!, 'base64').length).toBe(c.wbxmlBytes);
    expect(Buffer.from(c.wbxml!, 'base64')[0]).toBe(0x02); // WBXML 1.2
  });
});
