import { useEffect, useState } from 'react';
import { useApp, useAppShallow } from '../hooks/store.js';
import { errorsByInput, flashFraction, type ProfileDraft } from '../stores/bootstrap-slice.js';

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
  const [pin, setPin] = useState('');
  const [pinRef, setPinRef] = useState('01');
  useEffect(() => {
    void checkProfile();
    void loadReaders();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

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
          {check && !check.ok && (
            <ul className="small" data-testid="profile-errors">
              {check.errors.map((e, i) => <li key={i} className="bad"><span className="mono">{e.field}</span>: {e.message}</li>)}
            </ul>
          )}
        </section>

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
