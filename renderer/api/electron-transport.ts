/** Electron: the preload's window.dmw, one function per channel (no generic invoke). */
import type { CallReply, ChannelName, EventName } from '../../main/api/contract.js';
import type { ConnectionState, PreloadBridge, Transport } from './transport.js';

export function createElectronTransport(bridge: PreloadBridge): Transport {
  return {
    kind: 'electron',
    call(channel: ChannelName, input: unknown): Promise<CallReply> {
      const fn = bridge.channels[channel];
      if (!fn) return Promise.resolve({ ok: false, error: { code: 'bad-channel', message: `the preload does not expose ${channel}` } });
      return fn(input);
    },
    onEvent(fn) {
      return bridge.onEvent((name, payload) => fn(name as EventName, payload));
    },
    onState(fn: (s: ConnectionState) => void) {
      fn('open');
      return () => undefined;
    },
  };
}
