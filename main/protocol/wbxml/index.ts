/**
 * WBXML codec for SyncML DM (WBXML 1.0-1.3; code pages 0 SyncML, 1 MetInf, 2 DM DDF).
 *
 * libwbxml (`xml2wbxml -v 1.2 -n`) behaviour the XML side must mirror to get identical bytes for the
 * same document (pinned in test/unit/wbxml.oracle.test.ts):
 * - text is trimmed of leading/trailing whitespace, and whitespace-only text vanishes (libwbxml then
 *   still sets the content bit: `4B 01`; we write `<CmdID/>` as `0B`), except in Data under Add/Replace;
 * - CDATA, and any text in a Data whose grandparent is Add or Replace, becomes OPAQUE (untrimmed);
 * - `<MgmtTree>` inside SyncML becomes a nested WBXML DM DDF document in OPAQUE (our `ddf: 'opaque'`)
 *   and a sibling Meta/Type `application/vnd.syncml.dmtnds+xml` is rewritten to `+wbxml`.
 */
export { decodeWbxml, type WbxmlDecodeOptions } from './decode.js';
export { encodeWbxml, defaultPublicId, headerOptionsOf, type WbxmlEncodeOptions } from './encode.js';
export {
  inspectWbxml,
  formatTokenDump,
  DEFAULT_INSPECT_LIMITS,
  type InspectLimits,
  type WbxmlInspection,
  type WbxmlToken,
  type WbxmlTokenKind,
} from './inspect.js';
export { DEFAULT_WBXML_LIMITS, type WbxmlLimits } from './limits.js';
export {
  CODE_PAGE,
  PAGE_NAMESPACE,
  PUBLIC_ID,
  PUBLIC_ID_LITERAL,
  SYNCML12_ONLY,
  SYNCML_NAMESPACE_URI,
  TAG_LIST,
  describePublicId,
  tagToken,
  type PublicIdInfo,
} from './tables.js';
