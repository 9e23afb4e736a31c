import { createRoot } from 'react-dom/client';
import { createClient } from './api/client.js';
import { createElectronTransport } from './api/electron-transport.js';
import type { Transport } from './api/transport.js';
import { createWsTransport, readToken } from './api/ws-transport.js';
import { App } from './App.js';
import { StoreProvider } from './hooks/store.js';
import { createAppStore } from './stores/app-store.js';
import './styles.css';

function transport(): Transport {
  if (window.dmw) return createElectronTransport(window.dmw);
  const token = readToken() ?? '';
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  return createWsTransport(`${scheme}://${window.location.host}/api?token=${encodeURIComponent(token)}`);
}

const client = createClient(transport());
const store = createAppStore({ api: client.api });
client.onEvent((name, payload) => store.getState().ingest(name, payload));
client.onState((s, detail) => store.getState().setConnection(s, detail));

createRoot(document.getElementById('root')!).render(
  <StoreProvider store={store} api={client.api}>
    <App />
  </StoreProvider>,
);
