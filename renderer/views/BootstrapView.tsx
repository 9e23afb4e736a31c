import { useEffect, useRef, useState } from 'react';
import { downloadBase64, downloadText } from '../hooks/download.js';
import { useApp, useAppShallow } from '../hooks/store.js';
import { DEFAULT_PROFILE, draftToProfile, errorsByInput, flashFraction, labProfileDraft, profileToDraft, type ProfileDraft } from '../stores/bootstrap-slice.js';
import { PROFILE_ID } from '../../main/api/contract-profiles.js';

const AUTH = ['', 'DIGEST', 'BASIC', 'HMAC', 'HTTP-BASIC', 'HTTP-DIGEST', 'X509', 'TRANSPORT'];
const ADDR = ['URI', 'IPv4', 'IPv6', 'E164', 'ALPHA'];

export function BootstrapView() {
  const { draft, check, readers, selectedReader, flash } = useAppShallow((s) => ({
    draft: s.profileDraft, check: s.profileCheck, readers: s.cardReaders, selectedReader: s.selectedReader, flash: s.flash,
  }));
  const setField = useApp((s) => s.setProfileField);
  const checkProfile = useApp((s) => s.checkProfile);
  const loadReaders = useApp((s) => s.loadReaders);
  const selectReader = useApp((s) => s.selectReader);
  const flashCard = useApp((s) => s.flashCard);
  const server = useApp((s) => s.server);
  const replaceDraft = useApp((s) => s.replaceProfileDraft);
  const [pin, setPin] = useState('');
  const [pinRef, setPinRef] = useState('01');
  useEffect(() => {
    void checkProfile();
    void loadReaders();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps
  // Untouched example defaults become the running lab server (its URL, port, ServerID, credentials).
  const lab = labProfileDraft(server);
  useEffect(() => {
    if (lab && draft === DEFAULT_PROFILE) replaceDraft({ ...DEFAULT_PROFILE, ...lab });
  }, [lab === null, draft === DEFAULT_PROFILE]); // eslint-disable-line react-hooks/exhaustive-deps

  const errs = errorsByInput(check);
  const field = (k: keyof ProfileDraft, label: string, opts: { type?: string; choices?: string[] } = {}) => (
    <label className="field" data-field={k}>
      <span>{label}</span>
      {opts.choices ? (
        <select value={draft[k]} onChange={(e) => setField(k, e.target.value as never)} aria-invalid={errs[k] ? true : undefined}>
          {opts.choices.map((c) => <option key={c} value={c}>{c || '—'}</option>)}
        </select>
      ) : (
        <input className="mono" type={opts.type ?? 'text'} value={draft[k]} onChange={(e) => setField(k, e.target.value as never)} aria-invalid={errs[k] ? true : undefined} />
      )}
      {errs[k] && <span className="bad small" data-testid={`error-${k}`}>{errs[k]}</span>}
    </label>
  );
  const withCard = readers?.readers.filter((r) => r.present) ?? [];
  const canFlash = !!check?.ok && !!readers?.available && withCard.length > 0 && !flash.running;
  const pct = Math.round(flashFraction(flash.progress, flash.result !== null) * 100);

  return (
    <div className="view" data-testid="bootstrap-view">
      <header className="view-head">
        <h1>Bootstrap</h1>
        {check && (check.ok ? <span className="badge tone-ok" data-badge="valid">valid</span> : <span className="badge tone-bad" data-badge="invalid">invalid</span>)}
        <span className="muted">{check?.ok ? `${check.wbxmlBytes} bytes of WBXML, ${check.nodes.length} nodes` : check ? `${check.errors.length} field error(s)` : ''}</span>
      </header>
      <div className="cols">
        <section className="panel" aria-label="Profile">
          <header className="panel-head"><h3>Profile</h3></header>
          <div className="form">
            {field('serverId', 'ServerID')}
            {field('name', 'Name')}
            {field('account', 'Account node')}
            {field('address', 'Server address')}
            {field('addrType', 'Address type', { choices: ADDR })}
            {field('port', 'Port')}
            {field('authPref', 'AAuthPref', { choices: AUTH })}
            {field('clientType', 'Client credential type', { choices: AUTH })}
            {field('clientName', 'Client name')}
            {field('clientSecret', 'Client secret', { type: 'password' })}
            {field('clientData', 'Client nonce (base64)')}
            {field('serverType', 'Server credential type', { choices: AUTH })}
            {field('serverName', 'Server name')}
            {field('serverSecret', 'Server secret', { type: 'password' })}
            {field('serverData', 'Server nonce (base64)')}
            {field('prefConRef', 'PrefConRef')}
            {field('form', 'Form', { choices: ['dmacc', 'tnds'] })}
            {errs.$ && <p className="bad small" data-testid="error-profile">{errs.$}</p>}
          </div>
          <div className="row gap wrap">
            <button type="button" disabled={!lab} onClick={() => lab && replaceDraft({ ...draft, ...lab })} data-testid="use-lab-server" title={lab ? `Target ${lab.address}` : 'The lab server is not running'}>
              Use the lab server
            </button>
            {!lab && <span className="muted small">The lab server is not running: start it (Server view) to target it.</span>}
          </div>
          {check && !check.ok && (
            <ul className="small" data-testid="profile-errors">
              {check.errors.map((e, i) => <li key={i} className="bad"><span className="mono">{e.field}</span>: {e.message}</li>)}
            </ul>
          )}
        </section>

        <ProfilesPanel draft={draft} wbxml={check?.ok ? check.wbxml ?? null : null} />

        <section className="panel" aria-label="XML preview">
          <header className="panel-head"><h3>Bootstrap message (XML preview)</h3></header>
          {check?.xml ? <pre className="code-block mono small" data-testid="bootstrap-xml">{check.xml}</pre> : <p className="muted small">Fix the fields above to see the message.</p>}
        </section>

        <section className="panel" aria-label="Card readers">
          <header className="panel-head"><h3>Card readers (PC/SC)</h3><button onClick={() => void loadReaders()}>Refresh</button></header>
          {!readers && <p className="muted small">Asking PC/SC…</p>}
          {readers && !readers.available && <p className="bad" data-testid="pcsc-unavailable">PC/SC is not available: {readers.reason}</p>}
          {readers?.available && readers.readers.length === 0 && <p className="muted" data-testid="no-readers">pcscd is running but lists no reader. Plug one in (or run <span className="mono">dmw card emulate</span> with vpcd).</p>}
          {readers?.available && readers.readers.length > 0 && (
            <table className="grid" data-testid="reader-table">
              <thead><tr><th /><th>Reader</th><th>Card</th><th>ATR</th></tr></thead>
              <tbody>
                {readers.readers.map((r) => (
                  <tr key={r.name} data-reader={r.name} className={selectedReader === r.name ? 'selected' : ''} onClick={() => selectReader(r.name)}>
                    <td><input type="radio" name="reader" checked={selectedReader === r.name} onChange={() => selectReader(r.name)} aria-label={r.name} /></td>
                    <td>{r.name}</td>
                    <td>{r.present ? (r.mute ? <span className="bad">mute card</span> : <span className="ok" data-card="present">card</span>) : <span className="muted">no card</span>}{r.exclusive && <span className="tag">in exclusive use</span>}</td>
                    <td className="mono small" title={r.atrText ?? undefined}>{r.atr ?? '—'}{r.atrText && <div className="muted">{r.atrText}</div>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <div className="row gap wrap">
            <input placeholder="PIN / ADM (optional)" type="password" value={pin} onChange={(e) => setPin(e.target.value)} aria-label="PIN" />
            <select value={pinRef} onChange={(e) => setPinRef(e.target.value)} aria-label="PIN reference">
              <option value="01">PIN1 (01)</option><option value="0A">ADM1 (0A)</option>
            </select>
            <button className="primary" disabled={!canFlash} data-testid="flash-card" onClick={() => void flashCard({ ...(pin ? { pin, pinRef: Number.parseInt(pinRef, 16) } : {}) })}>
              {flash.running ? 'Flashing…' : `Flash ${selectedReader ?? 'the first card'}`}
            </button>
          </div>
          {(flash.running || flash.result) && (
            <div data-testid="flash-progress">
              <progress max={100} value={pct} aria-label="Flash progress" /> <span className="small">{flash.progress ? `${flash.progress.phase}: ${flash.progress.message}` : flash.running ? 'starting…' : ''}</span>
            </div>
          )}
          {flash.result && (
            <div data-testid="flash-result">
              {flash.result.ok ? (
                <p className="ok">Written and verified on “{flash.result.reader}”: {flash.result.report?.bytes} bytes in EF {flash.result.report?.fid}
                  {flash.result.report?.unchanged ? ' (the card already held it: nothing written)' : ` with ${flash.result.report?.updateCommands} UPDATE BINARY`}; the card read back matches the profile.</p>
              ) : (
                <p className="bad">Not flashed{flash.result.reader ? ` (“${flash.result.reader}”)` : ''}: {flash.result.error}</p>
              )}
              {flash.result.verification && !flash.result.verification.matches && <pre className="code-block mono small">{flash.result.verification.differences}</pre>}
            </div>
          )}
        </section>

        <section className="panel" aria-label="APDU trace">
          <header className="panel-head"><h3>APDU trace</h3><span className="muted small">{flash.trace.length} exchanges (PIN data masked)</span></header>
          {flash.trace.length === 0 ? <p className="muted small">The exchanges with the card appear here while it is flashed.</p> : (
            <div className="list-scroll">
              <table className="grid mono small" data-testid="apdu-trace">
                <thead><tr><th>#</th><th>command</th><th>C-APDU</th><th>R-APDU</th><th>SW</th><th>ms</th></tr></thead>
                <tbody>
                  {flash.trace.map((t) => (
                    <tr key={`${t.flashId}:${t.seq}`}>
                      <td>{t.seq}</td><td>{t.name}{t.auto ? ` (${t.auto})` : ''}</td><td>{t.command}</td>
                      <td>{t.error ? <span className="bad">{t.error}</span> : t.response}</td><td title={t.meaning}>{t.sw ?? ''}</td><td>{t.ms.toFixed(1)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      </div>
    </div>
  );
}

/**
 * Save, load and download: profiles go to the store `dmw bootstrap save|list` uses, load back from it
 * or from a JSON file, download as that JSON or as the WBXML bootstrap message itself.
 */
function ProfilesPanel({ draft, wbxml }: { draft: ProfileDraft; wbxml: string | null }) {
  const { stored, saved } = useAppShallow((s) => ({ stored: s.storedProfiles, saved: s.profileSave }));
  const loadStored = useApp((s) => s.loadStoredProfiles);
  const save = useApp((s) => s.saveProfile);
  const load = useApp((s) => s.loadProfile);
  const replaceDraft = useApp((s) => s.replaceProfileDraft);
  const [id, setId] = useState('');
  const [fileNote, setFileNote] = useState<string | null>(null);
  const file = useRef<HTMLInputElement>(null);
  useEffect(() => {
    void loadStored();
  }, [loadStored]);
  const profileId = id || draft.account || draft.serverId;
  const idError = PROFILE_ID.test(profileId) ? null : 'a profile id: letters, digits, . _ - (at most 64)';
  const base = profileId.replace(/[^A-Za-z0-9._-]+/g, '_') || 'profile';

  const readFile = async (f: File) => {
    try {
      const json = JSON.parse(await f.text()) as unknown;
      if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error('not a JSON object');
      const { draft: d, ignored } = profileToDraft(json as Record<string, unknown>);
      replaceDraft(d);
      setFileNote(`Loaded ${f.name}${ignored.length ? `; the editor has no field for ${ignored.join(', ')} (left out)` : ''}`);
    } catch (e) {
      setFileNote(`${f.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  return (
    <section className="panel" aria-label="Profiles">
      <header className="panel-head"><h3>Profiles</h3><span className="muted small">{stored ? `stored in ${stored.dir}` : ''}</span></header>
      <form className="row gap wrap" onSubmit={(e) => { e.preventDefault(); if (!idError) void save(profileId); }}>
        <label className="field"><span>Id</span>
          <input className="mono" value={id} placeholder={draft.account || draft.serverId} onChange={(e) => setId(e.target.value)} aria-invalid={idError ? true : undefined} data-testid="profile-id" />
          {idError && <span className="bad small">{idError}</span>}
        </label>
        <button type="submit" disabled={idError !== null} data-testid="profile-save">Save</button>
        <button type="button" onClick={() => downloadText(`${base}.json`, `${JSON.stringify(draftToProfile(draft), null, 2)}\n`)} data-testid="profile-download-json">Download JSON</button>
        <button type="button" disabled={!wbxml} onClick={() => wbxml && downloadBase64(`${base}.wbxml`, wbxml, 'application/vnd.syncml.dm+wbxml')} data-testid="profile-download-wbxml" title={wbxml ? undefined : 'Fix the profile first'}>Download WBXML</button>
        <button type="button" onClick={() => file.current?.click()} data-testid="profile-load-file">Load JSON file…</button>
        <input ref={file} type="file" accept=".json,application/json" hidden onChange={(e) => { const f = e.target.files?.[0]; if (f) void readFile(f); e.target.value = ''; }} data-testid="profile-file" />
      </form>
      {saved && (saved.ok
        ? <p className="ok small" data-testid="profile-saved">Saved as <span className="mono">{saved.id}</span> ({saved.file}); <span className="mono">dmw bootstrap build</span> reads that file.</p>
        : <ul className="small" data-testid="profile-save-errors">{saved.errors.map((e, i) => <li key={i} className="bad"><span className="mono">{e.field}</span>: {e.message}</li>)}</ul>)}
      {fileNote && <p className="small" data-testid="profile-file-note">{fileNote}</p>}
      {stored && stored.profiles.length > 0 && (
        <table className="grid compact" data-testid="stored-profiles">
          <tbody>
            {stored.profiles.map((p) => (
              <tr key={p.id} data-profile={p.id}>
                <td className="mono">{p.id}</td>
                <td className="mono small">{p.serverId ?? ''}</td>
                <td className="mono small wrap">{p.error ? <span className="bad">{p.error}</span> : p.address}</td>
                <td><button className="link" disabled={p.error !== null} onClick={() => void load(p.id)} data-testid={`profile-load-${p.id}`}>load</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
