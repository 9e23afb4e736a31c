/**
 * `--dmacc-acl ACL` of `dmw tree init` and `dmw handset`: the ACL of ./DMAcc, the node a server needs
 * Add on to give the device another server's account (a DM-6 delegation, main/server/API.md). A
 * generated tree gives ./DMAcc `Get=*` only, so without this flag such a device can never be
 * delegated: `--dmacc-acl 'Add=srvA&Get=*'` lets srvA delegate it.
 */
import type { DmTree } from '../tree/tree.js';
import { CliError } from './errors.js';

export const DMACC_ACL_FLAG = { 'dmacc-acl': { type: 'string' } } as const;

/** The flag's value checked as a DM ACL (commands Add, Delete, Exec, Get, Replace; ServerIDs or *). */
export async function dmaccAclFlag(v: string | undefined): Promise<string | undefined> {
  if (v === undefined) return undefined;
  const { parseAcl } = await import('../tree/acl.js');
  const r = parseAcl(v);
  // The parser's message names the ACL text and the 0-based position of the fault.
  if (!r.ok) throw new CliError(`--dmacc-acl: ${r.error.message}; expected e.g. 'Add=srvA&Get=*'`);
  return r.value.text;
}

/** Sets ./DMAcc's ACL (the tree always has ./DMAcc: createDeviceTree makes it). */
export function applyDmaccAcl(tree: DmTree, acl: string): void {
  const node = tree.lookup('./DMAcc');
  if (!node) throw new CliError('--dmacc-acl: the tree has no ./DMAcc node');
  tree.setProperties(node, { acl });
}
