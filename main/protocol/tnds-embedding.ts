/**
 * TNDS (a MgmtTree) inside a SyncML Item's Data, the way libwbxml and the TNDS spec carry it in WBXML:
 * as its own WBXML document in OPAQUE, with the Item's Meta Type saying `application/vnd.syncml.dmtnds+wbxml`;
 * in XML the same Item says `+xml` and holds the elements inline. The WBXML codec moves the document in
 * and out of OPAQUE; this module keeps the Type in step, without touching the caller's tree.
 */
import { isElement, type Child, type Element } from './element.js';

const TNDS_XML = 'application/vnd.syncml.dmtnds+xml';
const TNDS_WBXML = 'application/vnd.syncml.dmtnds+wbxml';

/** For encoding to WBXML: a tree whose TNDS-carrying Items say +wbxml (copied where changed). */
export function withWbxmlTndsTypes(root: Element): Element {
  return retype(root, TNDS_XML, TNDS_WBXML) ?? root;
}

/** After decoding WBXML with embedded documents expanded: Items holding a MgmtTree say +xml again (in place). */
export function restoreXmlTndsTypes(root: Element): Element {
  const changed = retype(root, TNDS_WBXML, TNDS_XML);
  if (changed) root.children = changed.children;
  return root;
}

/**
 * Elements an Item can sit under (directly or through a nested command). Nothing else is walked:
 * every message goes through here twice, and its SyncHdr, Meta, Target and Source hold no Item.
 */
const HOLDS_ITEMS = new Set(['SyncML', 'SyncBody', 'Add', 'Alert', 'Atomic', 'Copy', 'Delete', 'Exec', 'Get', 'Map', 'Put', 'Replace', 'Results', 'Search', 'Sequence', 'Status', 'Sync']);

/** Returns a changed copy of `e`, or undefined when nothing under it needs a change. */
function retype(e: Element, from: string, to: string): Element | undefined {
  if (e.ns !== 'syncml') return undefined;
  if (e.name === 'Item') return retypeItem(e, from, to);
  if (!HOLDS_ITEMS.has(e.name)) return undefined;
  let out: Child[] | undefined;
  const children = e.children;
  for (let i = 0; i < children.length; i++) {
    const c = children[i]!;
    if (!isElement(c)) continue;
    const r = retype(c, from, to);
    if (r) (out ??= [...children])[i] = r;
  }
  return out ? { ...e, children: out } : undefined;
}

function retypeItem(item: Element, from: string, to: string): Element | undefined {
  const data = item.children.find((c): c is Element => isElement(c) && c.name === 'Data');
  if (!data || !data.children.some((c) => isElement(c) && c.name === 'MgmtTree')) return undefined;
  let changed = false;
  const children = item.children.map((c) => {
    if (!isElement(c) || c.name !== 'Meta') return c;
    return {
      ...c,
      children: c.children.map((m) => {
        if (isElement(m) && m.name === 'Type' && typeof m.children[0] === 'string' && m.children[0].trim() === from) {
          changed = true;
          return { ...m, children: [to] };
        }
        return m;
      }),
    };
  });
  return changed ? { ...item, children } : undefined;
}
