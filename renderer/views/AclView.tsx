import { useEffect, useMemo, useState } from 'react';
import { ACL_COMMAND_NAMES, type AclMatrix, type JobSpecInput, type JobView } from '../../main/api/contract.js';
import { describeStatus } from '../../main/protocol/status-codes.js';
import { Badge, StatusCode } from '../components/Badge.js';
import { DeviceSelect } from '../components/DeviceSelect.js';
import { Field } from '../components/Field.js';
import { useApp, useAppShallow } from '../hooks/store.js';
import { checkTypedUri, uriLimitsFromEntries } from '../../main/tree/uri-check.js';

type Cmd = (typeof ACL_COMMAND_NAMES)[number];
type Grants = Record<Cmd, string[]>;

/** `Get=*&Replace=a+b` -> per command grantees (`*` kept as an id). Malformed parts are skipped. */
export function parseAclText(text: string): Grants {
  const g: Grants = { Add: [], Delete: [], Exec: [], Get: [], Replace: [] };
  for (const part of text.split('&')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const cmd = part.slice(0, i) as Cmd;
    if (!(cmd in g)) continue;
    for (const id of part.slice(i + 1).split('+')) if (id && !g[cmd].includes(id)) g[cmd].push(id);
  }
  return g;
}

/** Canonical order (Add, Delete, Exec, Get, Replace); `*` alone when present. */
export function aclText(g: Grants): string {
  return ACL_COMMAND_NAMES.filter((c) => g[c].length > 0)
    .map((c) => `${c}=${g[c].includes('*') ? '*' : g[c].join('+')}`)
    .join('&');
}

export function AclView() {
  const { device, uri, matrix, aclError, treeDevice, entries } = useAppShallow((s) => ({ device: s.aclDevice, uri: s.aclUri, matrix: s.aclMatrix, aclError: s.aclError, treeDevice: s.treeDevice, entries: s.treeEntries }));
  const load = useApp((s) => s.loadAcl);
  const loadTree = useApp((s) => s.loadTree);
  const addJob = useApp((s) => s.addJob);
  const jobs = useApp((s) => s.jobs);
  const [draftUri, setDraftUri] = useState(uri);
  /** Jobs this view sent (Read ACLs, Replace ?prop=ACL), with their outcome shown below: a failure is never silent. */
  const [sent, setSent] = useState<{ key: number; label: string; jobId: number | null }[]>([]);
  const send = async (label: string, spec: JobSpecInput) => {
    if (!device) return null;
    const job = await addJob(device, spec);
    setSent((r) => [{ key: Date.now() + r.length, label, jobId: job?.id ?? null }, ...r].slice(0, 20));
    return job;
  };
  useEffect(() => setDraftUri(uri), [uri]);
  useEffect(() => {
    if (device) void load(device, uri);
    if (device && treeDevice !== device) void loadTree(device);
  }, [device]); // eslint-disable-line react-hooks/exhaustive-deps

  const uris = useMemo(() => (treeDevice === device ? entries.filter((e) => !e.uri.includes('?') && e.format === 'node').map((e) => e.uri).slice(0, 5000) : []), [entries, treeDevice, device]);
  const limits = useMemo(() => (treeDevice === device ? uriLimitsFromEntries(entries) : {}), [entries, treeDevice, device]);
  // A node, not a property: `./a//b` or `./a/../b` is refused here, with the reason, before anything is asked.
  const draftError = draftUri.trim() === '' ? null : checkTypedUri(draftUri.trim(), { limits });

  /** The ancestors' and the subtree's unread ACLs: the root by a read-acl job, the rest in one Sequence. */
  const readAcls = async (m: AclMatrix) => {
    if (!device) return;
    const targets = [...new Set([...m.unread, ...m.nodes.filter((n) => n.acl === null).map((n) => n.uri)])].slice(0, 200);
    if (targets.length === 0) targets.push(m.uri);
    if (targets.includes('.')) await send('Read ACL .', { kind: 'read-acl', uri: '.' });
    // Only URIs a device can take: a node the server's copy holds under a malformed name is not asked for.
    const rest = targets.filter((t) => t !== '.' && checkTypedUri(t) === null);
    if (rest.length > 0) await send(`Read ACLs of ${rest.length} node${rest.length === 1 ? '' : 's'}`, { kind: 'sequence', commands: rest.map((u) => ({ kind: 'get' as const, uri: `${u}?prop=ACL` })) } satisfies JobSpecInput);
  };

  return (
    <div className="view acl-view">
      <header className="view-head">
        <h1>ACL</h1>
        <DeviceSelect value={device} onChange={(d) => d && void load(d, uri)} />
        <form className="row gap" onSubmit={(e) => { e.preventDefault(); if (!draftError) void load(device ?? undefined, draftUri.trim() || '.'); }}>
          <Field label="Node URI" list="acl-uris" value={draftUri} onChange={setDraftUri} mono placeholder="./DMAcc" error={draftError} testId="acl-uri" />
          <datalist id="acl-uris">{uris.map((u) => <option key={u} value={u} />)}</datalist>
          <button type="submit" disabled={draftError !== null}>Show</button>
        </form>
      </header>
      {aclError && <p className="bad pad" role="alert" data-testid="acl-error">Could not show the ACLs of {aclError}</p>}
      {sent.length > 0 && <AclRequests sent={sent} jobs={jobs} />}
      {!matrix ? <p className="muted pad">{device ? (aclError ? '' : 'Loading…') : 'No device yet.'}</p> : (
        <div className="acl-body">
          <section className="panel" aria-label="Effective rights">
            <header className="panel-head">
              <h3>Effective rights on <span className="mono">{matrix.uri}</span></h3>
              <div className="row gap">
                <span className="muted small">own ACL: <span className="mono">{matrix.ownAcl === null ? 'not read' : matrix.ownAcl === '' ? '(empty: inherits)' : matrix.ownAcl}</span></span>
                <button onClick={() => void readAcls(matrix)} data-testid="read-acls">Read ACLs{matrix.unread.length > 0 ? ` (${matrix.unread.length} unread)` : ''}</button>
              </div>
            </header>
            <table className="grid acl-matrix" data-testid="acl-matrix">
              <thead>
                <tr><th>server</th>{matrix.commands.map((c) => <th key={c}>{c}</th>)}</tr>
              </thead>
              <tbody>
                {matrix.servers.map((srv) => (
                  <tr key={srv}>
                    <th className="mono">{srv}</th>
                    {matrix.commands.map((c) => {
                      const cell = matrix.cells[srv]?.[c];
                      const tone = cell?.allowed === true ? 'ok' : cell?.allowed === false ? 'bad' : 'unknown';
                      return (
                        <td key={c} className={`acl-cell acl-${tone}`} title={cell?.reason} data-cell={`${srv}:${c}`}>
                          <div className="acl-mark">{cell?.allowed === true ? '✓ allowed' : cell?.allowed === false ? '✗ denied' : '? unknown'}</div>
                          {cell?.fromPath && <div className="small muted">from <span className="mono">{cell.fromPath}</span>{cell.inherited ? ' (inherited)' : ''}</div>}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
            <p className="muted small">Effective right = the node's own ACL, or the nearest ancestor's with a value (OMA DM TND §8.3.7.1). Access types come from DDFs and never travel over DM, so they are not shown. Hover a cell for the reason.</p>
          </section>
          {device && <AclEditor matrix={matrix} send={send} />}
          <section className="panel" aria-label="Subtree ACLs">
            <header className="panel-head"><h3>Subtree</h3></header>
            <table className="grid compact">
              <tbody>
                {matrix.nodes.map((n) => (
                  <tr key={n.uri} onClick={() => void load(device ?? undefined, n.uri)} className="clickable">
                    <td className="mono">{n.uri}</td>
                    <td className="mono">{n.acl === null ? <span className="muted">not read</span> : n.acl === '' ? <span className="muted">(inherits)</span> : n.acl}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </div>
      )}
    </div>
  );
}

/** What the jobs sent from this view came to: a refused or failed read shows its status and reason. */
function AclRequests({ sent, jobs }: { sent: { key: number; label: string; jobId: number | null }[]; jobs: Record<number, JobView> }) {
  return (
    <section className="panel" aria-label="ACL requests">
      <table className="grid compact" data-testid="acl-requests">
        <tbody>
          {sent.map((r) => {
            const j = r.jobId !== null ? jobs[r.jobId] : undefined;
            return (
              <tr key={r.key}>
                <td className="mono wrap">{r.label}</td>
                <td>{j ? <Badge value={j.status} title={j.error ?? undefined} /> : <Badge value={r.jobId === null ? 'held' : 'queued'} />}</td>
                <td><StatusCode code={j?.statusCode} /></td>
                <td className="small wrap" data-testid="acl-request-error">{j?.status === 'failed' ? j.error ?? 'failed' : j?.members.filter((m) => m.statusCode !== null && m.statusCode >= 300).map((m) => `${m.uri}: ${describeStatus(m.statusCode!)}`).join(', ')}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

function AclEditor({ matrix, send }: { matrix: AclMatrix; send: (label: string, spec: JobSpecInput) => Promise<JobView | null> }) {
  const [grants, setGrants] = useState<Grants>(() => parseAclText(matrix.ownAcl ?? ''));
  const [extra, setExtra] = useState('');
  useEffect(() => setGrants(parseAclText(matrix.ownAcl ?? '')), [matrix.uri, matrix.ownAcl]);
  const ids = useMemo(() => {
    const s = new Set<string>(['*', ...matrix.servers]);
    for (const c of ACL_COMMAND_NAMES) for (const id of grants[c]) s.add(id);
    return [...s];
  }, [matrix.servers, grants]);
  const text = aclText(grants);
  const isRoot = matrix.uri === '.';
  const flip = (c: Cmd, id: string) => {
    const cur = grants[c];
    setGrants({ ...grants, [c]: cur.includes(id) ? cur.filter((x) => x !== id) : [...cur, id] });
  };
  return (
    <section className="panel" aria-label="Edit ACL">
      <header className="panel-head">
        <h3>Edit the ACL of <span className="mono">{matrix.uri}</span></h3>
        <div className="row gap">
          <input placeholder="add server id" value={extra} onChange={(e) => setExtra(e.target.value)} aria-label="Server id" />
          <button disabled={!/^[^\s=&*+]+$/.test(extra)} onClick={() => { setGrants({ ...grants, Get: [...grants.Get, extra] }); setExtra(''); }}>Add server</button>
        </div>
      </header>
      <table className="grid compact">
        <thead><tr><th>server</th>{ACL_COMMAND_NAMES.map((c) => <th key={c}>{c}</th>)}</tr></thead>
        <tbody>
          {ids.map((id) => (
            <tr key={id}>
              <th className="mono">{id === '*' ? '* (everyone)' : id}</th>
              {ACL_COMMAND_NAMES.map((c) => (
                <td key={c}><input type="checkbox" checked={grants[c].includes(id)} onChange={() => flip(c, id)} aria-label={`${c} for ${id}`} /></td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      <div className="row gap">
        <span className="mono" data-testid="acl-text">{text || '(empty: inherits from the parent)'}</span>
        <button
          disabled={isRoot || text === (matrix.ownAcl ?? null)}
          title={isRoot ? 'The root ACL cannot be replaced by a job (./?prop=ACL is not a URI a job may name)' : undefined}
          onClick={() => void send(`Replace ${matrix.uri}?prop=ACL = ${text}`, { kind: 'replace', uri: `${matrix.uri}?prop=ACL`, value: text, format: 'chr' }).then(() => send(`Read ACL ${matrix.uri}`, { kind: 'read-acl', uri: matrix.uri }))}
        >
          Send Replace ?prop=ACL
        </button>
      </div>
    </section>
  );
}
