/**
 * Element names by namespace, as the SyncML 1.2, MetInf 1.2 and DM DDF 1.2 DTDs define them.
 * The XML reader uses them to place un-namespaced MetInf children; the model uses them to say
 * which elements carry content verbatim.
 */
import type { Namespace } from './element.js';

export const METINF_NAMES: ReadonlySet<string> = new Set([
  'Anchor', 'EMI', 'FieldLevel', 'Format', 'FreeID', 'FreeMem', 'Last', 'Mark', 'MaxMsgSize', 'MaxObjSize',
  'Mem', 'MetInf', 'Next', 'NextNonce', 'SharedMem', 'Size', 'Type', 'Version',
]);

/** The formal public identifier of TNDS / DDF documents (no registered WBXML number). */
export const TNDS_PUBLIC_ID = '-//OMA//DTD-DM-DDF 1.2//EN';

/**
 * Elements whose character data is a value, not layout: SyncML Data, TNDS Value and the
 * free-text DDF fields. Their text is kept exactly (no trimming).
 */
export function isDataElement(ns: Namespace, name: string): boolean {
  if (ns === 'syncml') return name === 'Data';
  if (ns === 'dmddf') return name === 'Value' || name === 'DefaultValue' || name === 'Description';
  return false;
}

/** Namespace URIs are compared case-insensitively: peers write both `SYNCML:SYNCML1.2` and `syncml:syncml1.2`. */
export function namespaceFromUri(uri: string): Namespace | undefined {
  switch (uri.trim().toLowerCase()) {
    case 'syncml:syncml1.0':
    case 'syncml:syncml1.1':
    case 'syncml:syncml1.2':
      return 'syncml';
    case 'syncml:metinf':
      return 'metinf';
    case 'syncml:dmddf1.2':
    case 'syncml:dmddf1.1':
      return 'dmddf';
    default:
      return undefined;
  }
}
