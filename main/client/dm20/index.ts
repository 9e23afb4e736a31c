/**
 * DM 2.0 virtual-handset client: executeDm20Package (one package on the tree) and runDm20Session
 * (the HTTP loop). See main/protocol/dm20/README.md for the switch and the assumptions.
 */
export * from './execute.js';
export * from './session.js';
