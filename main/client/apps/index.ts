/**
 * DM-7 / DM-8 on virtual handsets: local apps own management objects in the client's tree.
 * registration.ts checks a registration (pure), registry.ts keeps registrations and routes a
 * server's Exec and changes to the owning app, http.ts is the loopback HTTP/JSON interface for apps
 * in other processes, fumo.ts a demo firmware-update app. See main/client/APPS.md.
 */
export {
  AppRegistryError, RESERVED_ROOTS, isWithin, planRegistration,
  type AppErrorCode, type AppValue, type ExecBinding, type MoNodeSpec, type MoRegistration, type RegistrationPlan,
} from './registration.js';
export { ClientAppRegistry, type AppAlert, type ChangeCommand, type ChangeListener, type MoChange, type MoInfo, type RegistryOptions } from './registry.js';
export { ClientAppServer, RegistrationJson, changeToJson, nodeToJson, registrationFromJson, type AppServerOptions } from './http.js';
export { FirmwareUpdateApp, FUMO_ALERT_TYPE, FUMO_MO_TYPE, FUMO_RESULT, FUMO_STATE, type FumoOperation, type FumoOptions, type FumoReport } from './fumo.js';
