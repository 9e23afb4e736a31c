/**
 * How the UI reaches the backend. Two implementations, one shape: Electron (window.dmw from the
 * preload) and WebSocket (`npm run serve`). The views never know which one they have.
 */
import type { CallReply, ChannelName, EventName } from '../../main/api/contract.js';

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface Transport {
  readonly kind: 'electron' | 'websocket' | 'memory';
  call(channel: ChannelName, input: unknown): Promise<CallReply>;
  /** Raw events; the client validates them. Returns the unsubscribe. */
  onEvent(fn: (name: EventName, payload: unknown) => void): () => void;
  onState(fn: (s: ConnectionState, detail?: string) => void): () => void;
}

/** What the preload puts on window.dmw: one function per channel, and the event subscription. */
export interface PreloadBridge {
  readonly channels: Readonly<Record<ChannelName, (input: unknown) => Promise<CallReply>>>;
  onEvent(fn: (name: string, payload: unknown) => void): () => void;
}

declare global {
  interface Window {
    dmw?: PreloadBridge;
  }
}
