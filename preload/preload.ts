/**
 * The preload (sandboxed): exposes window.dmw = one function per contract channel, and the event
 * subscription. No generic invoke, no ipcRenderer, no Node: the renderer gets these and nothing else.
 * Replies are plain CallReply objects (errors as data: Error objects lose their fields crossing the
 * context bridge).
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { CHANNELS, IPC_EVENT, IPC_PREFIX, type ChannelName } from '../main/api/channels.js';

const channels = {} as Record<ChannelName, (input: unknown) => Promise<unknown>>;
for (const c of CHANNELS) channels[c] = (input: unknown) => ipcRenderer.invoke(`${IPC_PREFIX}${c}`, input);

contextBridge.exposeInMainWorld('dmw', {
  channels: Object.freeze(channels),
  onEvent(fn: (name: string, payload: unknown) => void): () => void {
    if (typeof fn !== 'function') return () => undefined;
    const listener = (_e: IpcRendererEvent, m: { name: string; payload: unknown }) => fn(m.name, m.payload);
    ipcRenderer.on(IPC_EVENT, listener);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT, listener);
    };
  },
});
