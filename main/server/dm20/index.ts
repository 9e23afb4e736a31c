/**
 * DM 2.0 on the server side: the pure session step (step.ts) and the HTTP endpoint around it
 * (handler.ts) that DmServer mounts at `<basePath>/v2`. See main/protocol/dm20/README.md.
 */
export * from './step.js';
export * from './handler.js';
