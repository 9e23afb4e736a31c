import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState } from 'react';
import type { JobSpecInput, TreeDiff } from '../../main/api/contract.js';
import { Badge, StatusCode, timeOf } from '../components/Badge.js';
import { DeviceSelect } from '../components/DeviceSelect.js';
import { Field } from '../components/Field.js';
import { clip, LongValue } from '../components/LongValue.js';
import { checkNodeName, checkTypedUri, uriLimitsFromEntries, type UriLimits } from '../../main/tree/uri-check.js';
import { FORMATS, ValueEditor, validateValue } from '../components/ValueEditor.js';
import { useApp, useAppShallow } from '../hooks/store.js';
import { buildTreeIndex, isInterior, visibleRows, type TreeNode } from '../hooks/tree-index.js';

const ROW = 26;

interface Request {
  key: number;
  label: string;
  jobId: number | null;
  held: boolean;
  /** An Add's node: its parent is opened once the Add is done, so the new node is in sight. */
  added?: string;
}

/** Commands the job form sends to a typed URI; only Get takes `?prop=` / `?list=`. */
const URI_JOBS = ['get', 'delete', 'exec', 'discover', 'read-acl'] as const;
type UriJobKind = (typeof URI_JOBS)[number];

export function TreeView() {
  const { device, entries, expanded, selectedUri, showDiff, diff, previousAt } = useAppShallow((s) => ({
    device: s.treeDevice, entries: s.treeEntries, expanded: s.expanded, selectedUri: s.selectedUri, showDiff: s.showDiff, diff: s.treeDiff, previousAt: s.treePreviousAt,
  }));
  const loadTree = useApp((s) => s.loadTree);
  const toggle = useApp((s) => s.toggleNode);
  const setExpanded = useApp((s) => s.setExpanded);
  const select = useApp((s) => s.selectNode);
  const setShowDiff = useApp((s) => s.setShowDiff);
  const index = useMemo(() => buildTreeIndex(entries), [entries]);
  const rows = useMemo(() => visibleRows(index, expanded), [index, expanded]);
  const marks = useMemo(() => diffMarks(showDiff ? diff : null), [showDiff, diff]);
  const parent = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({ count: rows.length, getScrollElement: () => parent.current, estimateSize: () => ROW, overscan: 20 });

  useEffect(() => {
    if (device && entries.length === 0) void loadTree(device);
  }, [device, entries.length, loadTree]);

  const selected = selectedUri ? index.byUri.get(selectedUri) : undefined;
  // The device's DevDetail/URI limits, when the server has read them: every URI typed here is checked against them.
  const limits = useMemo(() => uriLimitsFromEntries(entries), [entries]);

  return (
    <div className="view tree-view">
      <header className="view-head">
        <h1>Tree</h1>
        <DeviceSelect value={device} onChange={(d) => d && void loadTree(d)} />
        <span className="muted">{index.size - 1} nodes known · {rows.length} shown</span>
        <div className="row gap">
          <button onClick={() => setExpanded('all')}>Expand all</button>
          <button onClick={() => setExpanded('none')}>Collapse</button>
          <button onClick={() => void loadTree()}>Refresh</button>
          <label className="check"><input type="checkbox" checked={showDiff} onChange={(e) => setShowDiff(e.target.checked)} /> diff vs previous snapshot</label>
        </div>
      </header>
      {!device && <p className="muted pad">No device yet.</p>}
      <div className="split">
        <div className="split-list wide">
          {entries.length === 0 && device && (
            <p className="muted pad">The server knows nothing of this tree yet. Select the root and Discover, or wait for the device's next session.</p>
          )}
          <div className="tree-scroll" ref={parent} data-testid="tree-scroll" role="tree">
            <div style={{ height: v.getTotalSize(), position: 'relative' }}>
              {v.getVirtualItems().map((it) => {
                const n = rows[it.index]!;
                const interior = isInterior(n);
                const open = expanded[n.uri] === true;
                const mark = marks.get(n.uri);
                return (
                  <div
                    key={n.uri}
                    role="treeitem"
                    aria-expanded={interior ? open : undefined}
                    aria-selected={n.uri === selectedUri}
                    className={`tree-row${n.uri === selectedUri ? ' selected' : ''}${mark ? ` diff-${mark}` : ''}`}
                    style={{ transform: `translateY(${it.start}px)`, height: ROW, paddingLeft: 6 + n.depth * 16 }}
                    onClick={() => select(n.uri)}
                    data-uri={n.uri}
                  >
                    <span className="twisty" onClick={(e) => { e.stopPropagation(); if (interior) toggle(n.uri); }}>
                      {interior ? (open ? '▾' : '▸') : '·'}
                    </span>
                    <span className="tree-name">{n.name}</span>
                    {n.entry?.format && n.entry.format !== 'node' && <span className="tree-fmt">{n.entry.format}</span>}
                    {n.entry?.data !== null && n.entry?.data !== undefined && n.entry.format !== 'node' && <span className="tree-value mono">{n.entry.data.length > 60 ? `${n.entry.data.slice(0, 60)}…` : n.entry.data}</span>}
                  </div>
                );
              })}
            </div>
          </div>
          {showDiff && <DiffSummary diff={diff} previousAt={previousAt} />}
        </div>
        <aside className="split-side">
          {/* Keyed by node: what was typed for one node never shows in the next node's editors. */}
          {device && selected ? <NodePanel key={`${device}\n${selected.uri}`} device={device} node={selected} limits={limits} /> : <p className="muted pad">Select a node.</p>}
          {device && <UriJobForm device={device} limits={limits} />}
        </aside>
      </div>
    </div>
  );
}

function diffMarks(diff: TreeDiff | null): Map<string, 'added' | 'changed'> {
  const m = new Map<string, 'added' | 'changed'>();
  if (!diff) return m;
  for (const d of diff.added) m.set(d.uri.replace(/\?.*$/, ''), 'added');
  for (const d of diff.changed) m.set(d.uri.replace(/\?.*$/, ''), 'changed');
  return m;
}

function DiffSummary({ diff, previousAt }: { diff: TreeDiff | null; previousAt: string | null }) {
  if (!diff) return <p className="muted pad">Loading diff…</p>;
  if (!diff.previousAt) return <p className="muted pad" data-testid="tree-diff">No previous snapshot yet: one is taken each time a session of this device ends with a changed tree.</p>;
  const rows = [...diff.added.map((d) => ({ ...d, kind: 'added' })), ...diff.changed.map((d) => ({ ...d, kind: 'changed' })), ...diff.removed.map((d) => ({ ...d, kind: 'removed' }))];
  return (
    <section className="panel" data-testid="tree-diff">
      <header className="panel-head"><h3>Changes since {new Date(diff.previousAt ?? previousAt ?? '').toLocaleString()}</h3><span className="muted">{diff.added.length} added · {diff.changed.length} changed · {diff.removed.length} removed</span></header>
      <table className="grid compact">
        <tbody>
          {rows.slice(0, 500).map((r) => (
            <tr key={`${r.kind}${r.uri}`} className={`diff-${r.kind}`}><td>{r.kind}</td><td className="mono">{r.uri}</td><td className="mono">{r.before ?? ''}</td><td className="mono">{r.after ?? ''}</td></tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function NodePanel({ device, node, limits }: { device: string; node: TreeNode; limits: UriLimits }) {
  const addJob = useApp((s) => s.addJob);
  const jobs = useApp((s) => s.jobs);
  const setExpanded = useApp((s) => s.setExpanded);
  const setView = useApp((s) => s.setView);
  const loadAcl = useApp((s) => s.loadAcl);
  const e = node.entry;
  const format = e?.format ?? (isInterior(node) ? 'node' : 'chr');
  const [value, setValue] = useState(e?.data ?? '');
  const [childName, setChildName] = useState('');
  const [childFormat, setChildFormat] = useState('chr');
  const [childValue, setChildValue] = useState('');
  const [execData, setExecData] = useState('');
  const [requests, setRequests] = useState<Request[]>([]);
  const keyRef = useRef(1);

  useEffect(() => {
    setValue(e?.data ?? '');
  }, [e?.data]);

  // A done Add: open its parent, so the node the tree now has (api/tree-writes.ts) is in sight.
  const opened = useRef(new Set<number>());
  useEffect(() => {
    const done = requests.filter((r) => r.added && r.jobId !== null && jobs[r.jobId]?.status === 'done' && !opened.current.has(r.key));
    for (const r of done) opened.current.add(r.key);
    if (done.length > 0) setExpanded(done.map((r) => r.added!.slice(0, r.added!.lastIndexOf('/')) || '.'));
  }, [requests, jobs, setExpanded]);

  const send = async (label: string, spec: JobSpecInput) => {
    const key = keyRef.current++;
    setRequests((r) => [{ key, label, jobId: null, held: false, ...(spec.kind === 'add' ? { added: spec.uri } : {}) }, ...r].slice(0, 30));
    const job = await addJob(device, spec);
    setRequests((r) => r.map((x) => (x.key === key ? { ...x, jobId: job?.id ?? null, held: job === null } : x)));
  };

  const uri = node.uri;
  const valueError = format !== 'node' ? validateValue(format, value) : null;
  const childUri = `${uri === '.' ? '.' : uri}/${childName}`;
  const childNameError = childName === '' ? null : checkNodeName(childName) ?? checkTypedUri(childUri, { limits });
  const childError = childName === '' ? 'a node name' : childNameError ?? (childFormat !== 'node' ? validateValue(childFormat, childValue) : null);
  const binary = format === 'bin';

  return (
    <div className="node-panel" data-testid="node-panel">
      <section className="panel" aria-label="Node properties">
        <header className="panel-head"><h3 className="mono">{uri}</h3></header>
        <dl className="props">
          <div><dt>format</dt><dd>{e?.format ?? 'unknown (not read)'}</dd></div>
          <div><dt>type</dt><dd className="mono">{e?.type ?? '—'}</dd></div>
          <div><dt>value</dt><dd className="mono wrap" data-testid="node-value">{e?.data ? <LongValue text={e.data} fileName={`${uri.replace(/[^A-Za-z0-9._-]+/g, '_')}.txt`} /> : '—'}{e?.encoding === 'b64' ? ' (base64)' : ''}</dd></div>
          <div><dt>ACL</dt><dd className="mono">{node.acl === undefined ? 'not read' : node.acl === '' ? '(empty: inherits)' : node.acl}</dd></div>
          <div><dt>fetched</dt><dd>{e ? new Date(e.fetchedAt).toLocaleString() : '—'}</dd></div>
          <div><dt>children</dt><dd>{node.children.length}</dd></div>
        </dl>
        <div className="row gap wrap">
          <button onClick={() => void send(`Get ${uri}`, { kind: 'get', uri })} data-testid="job-get">Get</button>
          {isInterior(node) && <button onClick={() => void send(`Discover ${uri}`, { kind: 'discover', uri })}>Discover subtree</button>}
          <button onClick={() => void send(`Delete ${uri}`, { kind: 'delete', uri })} disabled={uri === '.'} className="danger">Delete</button>
          <button onClick={() => void send(`Read ACL ${uri}`, { kind: 'read-acl', uri })}>Read ACL</button>
          <button onClick={() => { void loadAcl(device, uri); setView('acl'); }}>ACL matrix</button>
        </div>
      </section>

      {format !== 'node' && (
        <section className="panel" aria-label="Replace value">
          <header className="panel-head"><h3>Replace value <span className="tag">{format}</span></h3></header>
          <ValueEditor format={format} value={value} onChange={setValue} id="replace-value" />
          <button
            disabled={valueError !== null}
            onClick={() => void send(`Replace ${uri} = ${value}`, { kind: 'replace', uri, value, format, ...(e?.type ? { type: e.type } : {}), ...(binary ? { binary: true } : {}) })}
            data-testid="job-replace"
          >
            Replace
          </button>
        </section>
      )}

      {isInterior(node) && (
        <section className="panel" aria-label="Add child">
          <header className="panel-head"><h3>Add child</h3></header>
          <div className="row gap">
            <Field label="Name" value={childName} onChange={setChildName} placeholder="name" mono error={childNameError} testId="child-name" hint={limits.maxSegLen ? `at most ${limits.maxSegLen} bytes (the device's MaxSegLen)` : undefined} />
            <select value={childFormat} onChange={(ev) => setChildFormat(ev.target.value)} aria-label="Child format">
              {FORMATS.filter((f) => f !== 'null').map((f) => <option key={f}>{f}</option>)}
            </select>
          </div>
          {childFormat !== 'node' && <ValueEditor format={childFormat} value={childValue} onChange={setChildValue} />}
          <button disabled={childError !== null} onClick={() => void send(`Add ${childUri}`, childFormat === 'node' ? { kind: 'add', uri: childUri, format: 'node' } : { kind: 'add', uri: childUri, value: childValue, format: childFormat, ...(childFormat === 'bin' ? { binary: true } : {}) })}>
            Add
          </button>
        </section>
      )}

      <section className="panel" aria-label="Exec">
        <header className="panel-head"><h3>Exec</h3></header>
        <div className="row gap">
          <input placeholder="data (optional)" value={execData} onChange={(ev) => setExecData(ev.target.value)} aria-label="Exec data" />
          <button onClick={() => void send(`Exec ${uri}`, { kind: 'exec', uri, ...(execData ? { data: execData } : {}) })}>Exec</button>
        </div>
      </section>

      <section className="panel" aria-label="Requests">
        <header className="panel-head"><h3>Requests</h3></header>
        <table className="grid compact" data-testid="requests">
          <tbody>
            {requests.length === 0 && <tr><td className="muted">Jobs sent from here show their state here.</td></tr>}
            {requests.map((r) => {
              const j = r.jobId !== null ? jobs[r.jobId] : undefined;
              return (
                <tr key={r.key} data-request={clip(r.label).head}>
                  <td className="mono wrap"><LongValue text={r.label} fileName="request.txt" /></td>
                  <td>{j ? <Badge value={j.status} title={j.error ?? undefined} /> : <Badge value={r.held ? 'held' : 'queued'} />}</td>
                  <td><StatusCode code={j?.statusCode} /></td>
                  <td className="muted small">{j ? `#${j.id} · ${timeOf(j.updatedAt)}` : ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
    </div>
  );
}

/**
 * A command on a typed URI (the job form): the URI is checked as it is typed, against the rules of a
 * DM URI and the device's limits, and the reason shows next to the field; nothing invalid is sent.
 */
function UriJobForm({ device, limits }: { device: string; limits: UriLimits }) {
  const addJob = useApp((s) => s.addJob);
  const [kind, setKind] = useState<UriJobKind>('get');
  const [uri, setUri] = useState('');
  const [sent, setSent] = useState<string | null>(null);
  const error = uri === '' ? null : checkTypedUri(uri, { limits, query: kind === 'get' });
  const submit = async () => {
    if (uri === '' || error) return;
    const job = await addJob(device, { kind, uri: uri.trim() });
    setSent(job ? `${kind} ${uri.trim()}: job #${job.id}` : `${kind} ${uri.trim()}: held or refused (see the queue)`);
  };
  return (
    <section className="panel" aria-label="Command on a URI">
      <header className="panel-head"><h3>Command on a URI</h3></header>
      <form className="row gap wrap" onSubmit={(ev) => { ev.preventDefault(); void submit(); }}>
        <select value={kind} onChange={(ev) => setKind(ev.target.value as UriJobKind)} aria-label="Command" data-testid="uri-job-kind">
          {URI_JOBS.map((k) => <option key={k} value={k}>{k}</option>)}
        </select>
        <Field label="URI" value={uri} onChange={setUri} placeholder={kind === 'get' ? './DevInfo/Mod or ./DMAcc?list=Struct' : './Vendor/Node'} mono error={error} testId="uri-job-uri" />
        <button type="submit" disabled={uri === '' || error !== null} data-testid="uri-job-send">Send</button>
      </form>
      {sent && <p className="muted small" data-testid="uri-job-sent">{sent}</p>}
    </section>
  );
}
