/**
 * The DM server: listener, pure session engine, device registry, jobs, lab CA, notifiers, events.
 */
export { DmServer, type DmServerOptions } from './server.js';
export { SessionEngine, isPackage1, type EngineInput, type EngineOutput, type EngineEffects, type EngineSession, type EngineJob, type DeviceView, type TransportInfo, type NonceSource } from './engine.js';
export { DEFAULT_LIMITS, engineConfig, parseCredential, type ServerLimits, type EngineConfig, type Credential, type ClientAuthMode, type ServerAuthMode } from './config.js';
export { EventBus, type ServerEvent, type ServerEventType } from './events.js';
export { SmsNotifier, smsAddress, type SmsPackage0Sender } from './sms-notifier.js';
export { HttpNotifier, buildPackage0, PACKAGE0_MEDIA_TYPE, type Notifier, type NotificationRequest, type NotifyTarget, type NotifyResult, type UiMode } from './notifier.js';
export { LabCa, type IssuedCert } from './ca.js';
export { ACCEPTED_MEDIA_TYPES, type ClientCertMode } from './http.js';
export { parseJobSpec, specCommand } from './jobs.js';
export * from './types.js';
