/**
 * DM 2.0 binding (RESTful JSON), behind the protocol switch: DM 1.2/1.3 stays the default.
 * What is implemented and what is assumed: README.md in this folder.
 */
export * from './model.js';
export * from './codec.js';
