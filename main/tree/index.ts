/**
 * DM management tree (DM-5): URIs, ACLs, nodes and properties, standard MOs, persistence.
 * The command processor, the `dmw tree` CLI and TNDS/DDF import/export build on this API.
 */
export * from './status.js';
export * from './uri.js';
export * from './acl.js';
export * from './values.js';
export {
  ACCESS,
  ACCESS_ALL,
  DEVICE,
  DmNode,
  DmTree,
  MAX_TITLE_BYTES,
  PROPERTIES,
  TreeError,
  accessMask,
  accessNames,
  formatTStamp,
  parseTStamp,
  type AccessExplanation,
  type AccessName,
  type AddResult,
  type AddSpec,
  type GetResult,
  type NodeDescription,
  type NodeSpec,
  type Principal,
  type PropertyName,
  type ReadonlyDmNode,
  type ReplaceMeta,
  type StructItem,
  type TreeOptions,
} from './tree.js';
export * from './mos.js';
export * from './persist.js';
export * from './tnds.js';
export * from './ddf.js';
export * as processor from './processor/index.js';
export { benchTree, type TreeBenchOptions, type TreeBenchResult } from './bench.js';
