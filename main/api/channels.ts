/**
 * The names of the contract's channels and events, and nothing else. The preload imports this file
 * (not contract.ts) so the sandboxed preload bundle stays tiny and schema-free: it exposes one
 * function per name here, and the Electron main process validates every call against contract.ts.
 * test/unit/api-contract.test.ts keeps these lists and the schemas in step.
 */
export const CHANNELS = [
  'server.status',
  'server.start',
  'server.stop',
  'server.configure',
  'server.caCertificate',
  'server.issueDeviceCertificate',
  'server.authFailures',
  'devices.list',
  'devices.configure',
  'handsets.status',
  'handsets.add',
  'handsets.start',
  'handsets.stop',
  'sessions.list',
  'sessions.get',
  'sessions.message',
  'sessions.summaries',
  'sessions.export',
  'sessions.abort',
  'sessions.findings',
  'sessions.findingCounts',
  'judge.rule',
  'jobs.list',
  'jobs.add',
  'jobs.queue',
  'jobs.pause',
  'jobs.step',
  'jobs.discard',
  'jobs.decide',
  'tree.get',
  'tree.diff',
  'acl.matrix',
  'bootstrap.check',
  'bootstrap.readers',
  'bootstrap.flash',
  'bootstrap.profiles',
  'bootstrap.save',
  'bootstrap.load',
  'serial.ports',
  'serial.identify',
  'serial.consoleOpen',
  'serial.consoleClose',
  'serial.consoleSend',
  'serial.pushPreview',
  'serial.pushSend',
  'serial.bootstrapPreview',
  'serial.bootstrapSend',
  'packets.query',
  'packets.fields',
  'sessions.search',
  'conformance.plans',
  'conformance.run',
  'conformance.status',
  'conformance.case',
  'conformance.report',
  'traces.export',
  'traces.import',
] as const;

export type ChannelName = (typeof CHANNELS)[number];

export const EVENTS = ['server.event', 'server.status', 'handsets.changed', 'jobs.changed', 'bootstrap.readers', 'bootstrap.progress', 'bootstrap.trace', 'serial.console'] as const;

export type EventName = (typeof EVENTS)[number];

/** Electron IPC channel names: one per contract channel, under a prefix nobody else uses. */
export const IPC_PREFIX = 'dmw:';
export const IPC_EVENT = 'dmw:event';

export function isChannelName(x: unknown): x is ChannelName {
  return typeof x === 'string' && (CHANNELS as readonly string[]).includes(x);
}
