import { Notices } from './components/Notices.js';
import { useApp, useAppShallow } from './hooks/store.js';
import { VIEWS } from './stores/app-store.js';
import { AclView } from './views/AclView.js';
import { BootstrapView } from './views/BootstrapView.js';
import { DevicesView } from './views/DevicesView.js';
import { SerialView } from './views/SerialView.js';
import { ServerView } from './views/ServerView.js';
import { SessionsView } from './views/SessionsView.js';
import { DATABASE_UNAVAILABLE } from './api/client.js';
import { PacketsView } from './views/PacketsView.js';
import { TreeView } from './views/TreeView.js';
import { ConformanceView } from './views/ConformanceView.js';

export function App() {
  const view = useApp((s) => s.view);
  const setView = useApp((s) => s.setView);
  const { connection, detail, server } = useAppShallow((s) => ({ connection: s.connection, detail: s.connectionDetail, server: s.server }));
  return (
    <div className="app">
      <nav className="nav" aria-label="Views">
        <div className="brand">DM Workbench</div>
        {VIEWS.map((v) => (
          <button key={v.id} className={`nav-item${view === v.id ? ' active' : ''}`} onClick={() => setView(v.id)} aria-current={view === v.id ? 'page' : undefined} data-view={v.id}>
            {v.label}
          </button>
        ))}
        <div className="nav-foot">
          <div className={`conn conn-${connection}`} title={detail ?? undefined}>
            backend: {connection}
          </div>
          {detail === DATABASE_UNAVAILABLE && <div className="conn bad" role="status" data-testid="database-state">{DATABASE_UNAVAILABLE}</div>}
          <div className="conn" data-testid="server-state">
            {server ? (server.running ? <>server: <span className="ok">running</span> <span className="mono small">{server.url}</span></> : <>server: <span className="bad">stopped</span></>) : 'server: …'}
          </div>
        </div>
      </nav>
      <main className="main">
        {view === 'devices' && <DevicesView />}
        {view === 'sessions' && <SessionsView />}
        {view === 'packets' && <PacketsView />}
        {view === 'tree' && <TreeView />}
        {view === 'acl' && <AclView />}
        {view === 'server' && <ServerView />}
        {view === 'bootstrap' && <BootstrapView />}
        {view === 'serial' && <SerialView />}
        {view === 'conformance' && <ConformanceView />}
        {/* In the layout, under the view: a toast never covers a form. */}
        <Notices />
      </main>
    </div>
  );
}
