/**
 * Virtual handsets (main/client): DM clients on the codec and the tree engine that talk to any DM
 * server over real HTTP(S). See handset.ts (one handset), pool.ts (N of them), fleet.ts (the app's
 * Devices view: `createFleet(ctx)`, the entry point main/api/handsets.ts loads).
 */
export { VirtualHandset, alertResponder, rejectResponder, type AlertPolicy, type ServerAuthPolicy, type HandsetOptions, type ConnectOptions, type SessionOutcome, type NotificationOutcome, type AccountView, type HandsetAppHooks } from './handset.js';
export { HandsetPool, type PoolOptions, type HandsetTemplate, type HandsetView, type RunAllOptions } from './pool.js';
export { NotificationListener } from './notify-listener.js';
export { HandsetEvents, type HandsetEvent, type HandsetEventType, type HandsetListener, type Initiator } from './events.js';
export { Transport, pinnedIdentityCheck, type HandsetTls, type HttpReply, type TransportOptions } from './transport.js';
export { isValidImeiDevId, randomImeiDevId } from './devid.js';
export { authTypeOf, checkServer, clientCred, AAUTH_TYPE, type AccountCredential, type ServerVerdict } from './credentials.js';
export { createFleet, prepareForServer, type FleetContext, type FleetServer, type FleetHandset, type HandsetFleet } from './fleet.js';
export { runSim, SimSetupError, summarize, percentile, configureAccount, defaultServerId, type SimOptions, type SimSummary, type SimCredential } from './sim.js';
export * from './apps/index.js';
export { FAULTS, FAULT_NAMES, UnknownFaultError, applyOutgoingFaults, describeFaults, faultInfo, parseFaults, type FaultInfo, type FaultName } from './faults.js';
