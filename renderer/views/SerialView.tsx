import { useEffect, useRef, useState } from 'react';
import { Badge } from '../components/Badge.js';
import { useApp, useAppShallow } from '../hooks/store.js';
import { Field } from '../components/Field.js';
import { portPathProblem, secNeedsImsi, type BootstrapPushDraft, type SecMethodName, type UiModeName } from '../stores/serial-slice.js';

const UI_MODES: UiModeName[] = ['unspecified', 'background', 'informative', 'interactive'];
const SECS: SecMethodName[] = ['NETWPIN', 'USERPIN', 'USERNETWPIN', 'USERPINMAC'];
const BAUDS = [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600];

export function SerialView() {
  const s = useAppShallow((x) => ({
    ports: x.ports, selected: x.selectedPort, baud: x.baudRate, identities: x.identities, identifying: x.identifying,
    consoleState: x.consoleState, lines: x.consoleLines, draft: x.pushDraft, preview: x.pushPreview, result: x.pushResult, pushing: x.pushing,
    devices: x.devices, bdraft: x.bootstrapPushDraft, bpreview: x.bootstrapPushPreview, bresult: x.bootstrapPushResult, bpushing: x.bootstrapPushing,
    profileOk: x.profileCheck?.ok ?? null,
  }));
  const a = useAppShallow((x) => ({
    loadPorts: x.loadPorts, selectPort: x.selectPort, setBaudRate: x.setBaudRate, identify: x.identifyPort, openConsole: x.openConsole, closeConsole: x.closeConsole,
    send: x.sendConsoleLine, clear: x.clearConsole, setDraft: x.setPushDraft, previewPush: x.previewPush, sendPush: x.sendPush,
    setBDraft: x.setBootstrapPushDraft, previewBootstrap: x.previewBootstrapPush, sendBootstrap: x.sendBootstrapPush,
  }));
  const [line, setLine] = useState('');
  const [typedPort, setTypedPort] = useState('');
  const typedError = portPathProblem(typedPort.trim());
  const bottom = useRef<HTMLDivElement>(null);
  useEffect(() => {
    void a.loadPorts();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    bottom.current?.scrollIntoView?.({ block: 'end' });
  }, [s.lines.length]);
  const id = s.selected ? s.identities[s.selected] : undefined;
  const consoleHere = s.consoleState.open && s.consoleState.port === s.selected;

  return (
    <div className="view" data-testid="serial-view">
      <header className="view-head">
        <h1>Serial</h1>
        <span className="muted">{s.ports ? `${s.ports.ports.length} port(s)${s.ports.source ? ` via ${s.ports.source}` : ''}` : ''}</span>
        <button onClick={() => void a.loadPorts()}>Refresh</button>
      </header>
      <div className="cols">
        <section className="panel" aria-label="Ports">
          <header className="panel-head"><h3>Ports</h3></header>
          {s.ports?.error && <p className="bad">Could not list ports: {s.ports.error}</p>}
          {s.ports?.note && <p className="muted small">{s.ports.note}</p>}
          {s.ports && s.ports.ports.length === 0 && !s.ports.error && <p className="muted" data-testid="no-ports">No serial ports found. Plug in a handset or modem (USB), then Refresh.</p>}
          {s.ports && s.ports.ports.length > 0 && (
            <table className="grid" data-testid="port-table">
              <thead><tr><th>Port</th><th>USB id</th><th>Device</th></tr></thead>
              <tbody>
                {s.ports.ports.map((p) => (
                  <tr key={p.path} data-port={p.path} className={p.path === s.selected ? 'selected' : ''} onClick={() => a.selectPort(p.path)}>
                    <td className="mono">{p.path}</td>
                    <td className="mono">{p.vendorId ? `${p.vendorId}:${p.productId ?? '????'}` : '—'}</td>
                    <td>{[p.manufacturer, p.product].filter(Boolean).join(' ') || '—'}{p.serialNumber && <div className="muted small mono">{p.serialNumber}</div>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {!s.selected && s.ports && <p className="muted small" data-testid="no-port-selected">No port selected: none listed looks like a modem or handset (USB). Pick one above or type its path.</p>}
          <form className="row gap" onSubmit={(e) => { e.preventDefault(); if (typedPort.trim() && !typedError) a.selectPort(typedPort.trim()); }}>
            <Field label="Port path" value={typedPort} onChange={setTypedPort} mono placeholder="/dev/pts/3" error={typedError} testId="port-path" />
            <button type="submit" disabled={!typedPort.trim() || typedError !== null} data-testid="port-path-use">Use</button>
          </form>
          <details className="small" data-testid="modem-hint" open={s.ports !== null && !s.selected}>
            <summary>No modem at hand? Use the simulated one</summary>
            <p>A pair of connected ptys, with the workbench's simulated handset/modem on one end (it answers AT commands, takes SMS and decodes WAP pushes):</p>
            <pre className="code-block mono small">{'socat -d -d pty,raw,echo=0,link=/tmp/modem pty,raw,echo=0,link=/tmp/dmw\ndmw serial simulate --port /tmp/modem'}</pre>
            <p>socat prints the two <span className="mono">/dev/pts/N</span> paths (<span className="mono">readlink -f /tmp/dmw</span> shows the second): type that one under Port path and Use it, then Identify.</p>
          </details>
          <div className="row gap">
            <label className="field"><span>Baud</span>
              <select value={s.baud} onChange={(e) => a.setBaudRate(Number(e.target.value))} aria-label="Baud rate">
                {BAUDS.map((b) => <option key={b} value={b}>{b}</option>)}
              </select>
            </label>
          </div>
        </section>

        <section className="panel" aria-label="Identity">
          <header className="panel-head"><h3>Identity {s.selected && <span className="mono small">{s.selected}</span>}</h3>
            <button disabled={!s.selected || s.identifying || consoleHere} onClick={() => void a.identify()} data-testid="identify">{s.identifying ? 'Asking…' : 'Identify (AT)'}</button>
          </header>
          {!id ? <p className="muted small">Manufacturer, model, revision, IMEI, IMSI and ICCID, asked over AT (+CGMI, +CGMM, +CGMR, +CGSN, +CIMI, +CRSM).</p> : (
            <dl className="props" data-testid="identity">
              {([['manufacturer', id.manufacturer], ['model', id.model], ['revision', id.revision], ['IMEI', id.imei ? `${id.imei}${id.imeiLuhnOk === false ? ' (check digit wrong)' : ''}` : undefined], ['IMSI', id.imsi], ['ICCID', id.iccid ? `${id.iccid} (via ${id.iccidSource})` : undefined]] as const).map(([k, v]) => (
                <div key={k}><dt>{k}</dt><dd className="mono">{v ?? <span className="muted">{id.errors[k.toLowerCase()] ?? '—'}</span>}</dd></div>
              ))}
            </dl>
          )}
        </section>

        <section className="panel" aria-label="Console">
          <header className="panel-head"><h3>Console</h3>
            {s.consoleState.open ? <><Badge value="active" title={s.consoleState.port ?? ''} /><button onClick={() => void a.closeConsole()}>Close</button></> : <button disabled={!s.selected} onClick={() => void a.openConsole()} data-testid="console-open">Open {s.selected ?? ''}</button>}
            <button onClick={() => a.clear()}>Clear</button>
          </header>
          {s.consoleState.error && <p className="bad small">{s.consoleState.error}</p>}
          <div className="list-scroll"><pre className="code-block mono small" data-testid="console-lines">{s.lines.join('\n')}<div ref={bottom} /></pre></div>
          <form className="row gap" onSubmit={(e) => { e.preventDefault(); if (line) { void a.send(line); setLine(''); } }}>
            <input className="mono grow" value={line} onChange={(e) => setLine(e.target.value)} placeholder="AT…" disabled={!s.consoleState.open} aria-label="Console line" />
            <button type="submit" disabled={!s.consoleState.open || !line}>Send</button>
          </form>
        </section>

        <section className="panel" aria-label="Notification">
          <header className="panel-head"><h3>Send a notification (WAP push)</h3></header>
          <p className="muted small">Package #0 from the Server settings (ServerID, server credential), in a WSP push, as SMS through the modem on the chosen port.</p>
          <div className="form">
            <label className="field"><span>To (MSISDN)</span><input className="mono" value={s.draft.to} onChange={(e) => a.setDraft({ to: e.target.value })} placeholder="+491701234567" data-testid="push-to" /></label>
            <label className="field"><span>Device (server nonce)</span>
              <select value={s.draft.devId} onChange={(e) => a.setDraft({ devId: e.target.value })}>
                <option value="">none</option>
                {s.devices.map((d) => <option key={d.devId} value={d.devId}>{d.devId}</option>)}
              </select>
            </label>
            <label className="field"><span>UI mode</span>
              <select value={s.draft.uiMode} onChange={(e) => a.setDraft({ uiMode: e.target.value as UiModeName })}>
                {UI_MODES.map((m) => <option key={m} value={m}>{m}</option>)}
              </select>
            </label>
          </div>
          <div className="row gap">
            <button disabled={!s.draft.to.trim()} onClick={() => void a.previewPush()} data-testid="push-preview">Preview</button>
            <button className="primary" disabled={!s.preview || !s.selected || s.pushing} onClick={() => void a.sendPush()} data-testid="push-send">{s.pushing ? 'Sending…' : `Send via ${s.selected ?? '(no port)'}`}</button>
          </div>
          {s.preview && (
            <div data-testid="push-pdus">
              <dl className="props">
                <div><dt>server</dt><dd className="mono">{s.preview.serverId}</dd></div>
                <div><dt>session</dt><dd className="mono">{s.preview.sessionIdHex} ({s.preview.sessionId})</dd></div>
                <div><dt>package #0</dt><dd className="mono small wrap">{s.preview.package0Hex}</dd></div>
                <div><dt>WSP push</dt><dd className="mono small wrap">{s.preview.wspHex}</dd></div>
              </dl>
              {s.preview.warnings.map((w, i) => <p key={i} className="muted small">⚠ {w}</p>)}
              <table className="grid mono small">
                <thead><tr><th>part</th><th>TPDU</th><th>PDU</th></tr></thead>
                <tbody>{s.preview.parts.map((p) => <tr key={p.seq}><td>{p.seq}/{p.total}</td><td>{p.tpduLength}</td><td className="wrap">{p.pduHex}</td></tr>)}</tbody>
              </table>
            </div>
          )}
          {s.result && (
            <div data-testid="push-result">
              <p className={s.result.ok ? 'ok' : 'bad'}>{s.result.detail}</p>
              <pre className="code-block mono small">{s.result.transcript.join('\n')}</pre>
            </div>
          )}
        </section>

        <section className="panel" aria-label="Bootstrap push">
          <header className="panel-head"><h3>Push a bootstrap (OTA, WAP push)</h3></header>
          <p className="muted small">The profile's bootstrap (WBXML, as the Bootstrap view builds it) in a WSP push with SEC and its HMAC-SHA1 MAC, as SMS through the modem on the chosen port. NETWPIN keys on the target's IMSI, USERPIN on a PIN, USERNETWPIN on both, USERPINMAC on the first half of the PIN the user types.</p>
          <div className="form">
            <label className="field"><span>To (MSISDN)</span><input className="mono" value={s.bdraft.to} onChange={(e) => a.setBDraft({ to: e.target.value })} placeholder="+491701234567" data-testid="bootstrap-push-to" /></label>
            <label className="field"><span>Profile</span>
              <select value={s.bdraft.source} onChange={(e) => a.setBDraft({ source: e.target.value as BootstrapPushDraft['source'] })} data-testid="bootstrap-push-source">
                <option value="view">Bootstrap view's profile{s.profileOk === false ? ' (has errors)' : ''}</option>
                <option value="json">pasted JSON</option>
              </select>
            </label>
            {s.bdraft.source === 'json' && (
              <label className="field"><span>Profile JSON</span><textarea className="mono small" rows={6} value={s.bdraft.profileJson} onChange={(e) => a.setBDraft({ profileJson: e.target.value })} placeholder='{"serverId": "...", "address": "https://...", ...}' data-testid="bootstrap-push-json" /></label>
            )}
            <label className="field"><span>SEC</span>
              <select value={s.bdraft.sec} onChange={(e) => a.setBDraft({ sec: e.target.value as SecMethodName })} data-testid="bootstrap-push-sec">
                {SECS.map((m) => <option key={m} value={m}>{m}</option>)}
              </select>
            </label>
            {secNeedsImsi(s.bdraft.sec) && (
              <label className="field"><span>IMSI</span>
                <select value={s.bdraft.imsiFrom} onChange={(e) => a.setBDraft({ imsiFrom: e.target.value as BootstrapPushDraft['imsiFrom'] })} aria-label="IMSI from">
                  <option value="typed">typed</option>
                  <option value="port">read over AT from {s.selected ?? '(no port)'}</option>
                </select>
                {s.bdraft.imsiFrom === 'typed' && <input className="mono" value={s.bdraft.imsi} onChange={(e) => a.setBDraft({ imsi: e.target.value })} placeholder={id?.imsi ?? '001010123456789'} data-testid="bootstrap-push-imsi" />}
              </label>
            )}
            {s.bdraft.sec !== 'NETWPIN' && (
              <label className="field"><span>{s.bdraft.sec === 'USERPINMAC' ? 'PIN key half (5 to 8 digits)' : 'PIN'}</span><input className="mono" value={s.bdraft.pin} onChange={(e) => a.setBDraft({ pin: e.target.value })} data-testid="bootstrap-push-pin" /></label>
            )}
            {s.bdraft.sec === 'USERNETWPIN' && (
              <label className="field"><span>USERNETWPIN key</span>
                <select value={s.bdraft.userNetwPinKey} onChange={(e) => a.setBDraft({ userNetwPinKey: e.target.value as BootstrapPushDraft['userNetwPinKey'] })}>
                  <option value="imsi+pin">imsi+pin (cpclient, Funambol, Symbian)</option>
                  <option value="imsi:pin">imsi:pin</option>
                </select>
              </label>
            )}
          </div>
          <div className="row gap">
            <button disabled={!s.bdraft.to.trim()} onClick={() => void a.previewBootstrap()} data-testid="bootstrap-push-preview">Preview</button>
            <button className="primary" disabled={!s.bpreview || !s.selected || s.bpushing} onClick={() => void a.sendBootstrap()} data-testid="bootstrap-push-send">{s.bpushing ? 'Sending…' : `Send via ${s.selected ?? '(no port)'}`}</button>
          </div>
          {s.bpreview && (
            <div data-testid="bootstrap-push-pdus">
              <dl className="props">
                <div><dt>content type</dt><dd className="mono small wrap" data-testid="bootstrap-push-ct">{s.bpreview.contentType}{s.bpreview.params.map((p) => `; ${p.name}=${p.value}`).join('')}</dd></div>
                <div><dt>application</dt><dd className="mono">{s.bpreview.appId ?? '—'}</dd></div>
                <div><dt>SEC / MAC</dt><dd className="mono small wrap">{s.bpreview.sec} / {s.bpreview.mac}</dd></div>
                <div><dt>key</dt><dd className="small" data-testid="bootstrap-push-key">{s.bpreview.keyDescription}{s.bpreview.userNetwPinKey && <> — variant <b className="mono">{s.bpreview.userNetwPinKey}</b></>}</dd></div>
                {s.bpreview.imsi && <div><dt>IMSI</dt><dd className="mono">{s.bpreview.imsi} <span className="muted small">({s.bpreview.imsiSource})</span></dd></div>}
                {s.bpreview.userPin && <div><dt>PIN to type</dt><dd className="mono" data-testid="bootstrap-push-userpin">{s.bpreview.userPin}</dd></div>}
                <div><dt>bootstrap</dt><dd className="mono">{s.bpreview.wbxmlBytes} bytes of WBXML</dd></div>
                <div><dt>WSP push</dt><dd className="mono small wrap">{s.bpreview.wspHex}</dd></div>
              </dl>
              {s.bpreview.notes.map((n, i) => <p key={i} className="muted small">ⓘ {n}</p>)}
              <table className="grid mono small">
                <thead><tr><th>part</th><th>TPDU</th><th>PDU</th></tr></thead>
                <tbody>{s.bpreview.parts.map((p) => <tr key={p.seq}><td>{p.seq}/{p.total}</td><td>{p.tpduLength}</td><td className="wrap">{p.pduHex}</td></tr>)}</tbody>
              </table>
            </div>
          )}
          {s.bresult && (
            <div data-testid="bootstrap-push-result">
              <p className={s.bresult.ok ? 'ok' : 'bad'}>{s.bresult.detail}</p>
              <pre className="code-block mono small">{s.bresult.transcript.join('\n')}</pre>
            </div>
          )}
        </section>
      </div>
    </div>
  );
}
