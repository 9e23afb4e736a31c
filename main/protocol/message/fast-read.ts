/**
 * WBXML bytes -> typed SyncML message in one pass over the token stream, without the document tree:
 * what decodeMessage does on every DM message the server and the handsets read (decodeWbxml, TNDS
 * retyping, readMessage), for the messages real peers send.
 *
 * It is a fast path, not a second reader: for the documents it understands it returns exactly what
 * the tree path returns (readMessage's objects, keys in the same order), and it gives up (returns
 * undefined) on anything else and on every error, so that the tree path runs and answers with its
 * own error, offset and element path. It gives up on: DM DDF (code page 2) elements, OPAQUE holding
 * an embedded WBXML DM DDF document (TNDS, which the tree path expands and retypes), elements inside
 * an Item's Data (embedded XML), LITERAL tags, attributes, extension tokens and PIs, and every error
 * of the decoder or of readMessage (a missing, repeated or unknown element, text where elements
 * belong, OPAQUE text that is not UTF-8, the limits). It follows the tree path's rules:
 * adjacent text pieces are one piece of character data, empty ones are none; whitespace-only text
 * between elements is skipped except in SyncBody, Atomic and Sequence; text fields are trimmed except
 * Data, and OPAQUE in them is read as UTF-8; an Item's Data is text, bytes (OPAQUE, copied) or both
 * (then the bytes, text as UTF-8, in order); a Meta holding only a MetInf element reads its content;
 * flags (NoResp, MoreData, Final, FieldLevel, SharedMem) are present whatever they hold.
 * test/unit/message-fast-read.test.ts holds it deep-equal to the tree path on the corpus, on real
 * bench sessions, on corner cases of each rule and on mutated documents.
 *
 * The reader in modules: fast-tokens.ts (the token loop, text elements), fast-read-parts.ts (Item,
 * Location, Cred, Chal, Meta), fast-read-commands.ts (SyncBody and its commands); this one holds the
 * entry point, the document and SyncHdr.
 */
import type { Cred, Location, Meta, SyncBody, SyncHdr, SyncML } from '../model.js';
import { DEFAULT_WBXML_LIMITS } from '../wbxml/limits.js';
import { fastView } from '../wbxml/primitives.js';
import { CRED, META, MSG_ID, NO_RESP, RESP_URI, SESSION_ID, SOURCE, SYNC_BODY, SYNC_HDR, SYNCML, TARGET, VER_DTD, VER_PROTO } from './fast-tags.js';
import { atDocumentEnd, bail, beginDocument, endDocument, K_TAG, next, nextChild, skip, tagContent, tagId, tagPage, textOf } from './fast-tokens.js';
import { credOf, location, metaOf } from './fast-read-parts.js';
import { syncBody } from './fast-read-commands.js';

/**
 * The message decodeMessage's tree path would read from `bytes` (WBXML), or undefined when this path
 * does not apply or the bytes are not a valid message (then the tree path runs and says why).
 */
export function readWbxmlMessageFast(bytes: Uint8Array): SyncML | undefined {
  if (bytes.length > DEFAULT_WBXML_LIMITS.maxBytes) return undefined;
  try {
    return readDocument(fastView(bytes));
  } catch {
    // BAIL, a CodecFailure from a primitive, or a fault of the fast path itself: the tree path decides.
    return undefined;
  } finally {
    endDocument();
  }
}

function readDocument(input: Uint8Array): SyncML {
  beginDocument(input);
  // Code page switches may come before the root (next() follows them); anything else is an error.
  if (next() !== K_TAG || tagPage !== 0 || tagId !== SYNCML || !tagContent) bail();
  let hdr: SyncHdr | undefined;
  let body: SyncBody | undefined;
  while (nextChild() === K_TAG) {
    if (tagPage !== 0) bail();
    if (tagId === SYNC_HDR && hdr === undefined) hdr = syncHdr(tagContent);
    else if (tagId === SYNC_BODY && body === undefined) body = syncBody(tagContent);
    else bail();
  }
  if (hdr === undefined || body === undefined || !atDocumentEnd()) bail();
  return { hdr, body };
}

function syncHdr(content: boolean): SyncHdr {
  if (!content) bail();
  let verDTD: string | undefined, verProto: string | undefined, sessionID: string | undefined, msgID: string | undefined;
  let target: Location | undefined, source: Location | undefined, respURI: string | undefined;
  let noResp = false;
  let cred: Cred | undefined, meta: Meta | undefined;
  while (nextChild() === K_TAG) {
    if (tagPage !== 0) bail();
    const c = tagContent;
    switch (tagId) {
      case VER_DTD: if (verDTD !== undefined) bail(); verDTD = textOf(c, false); break;
      case VER_PROTO: if (verProto !== undefined) bail(); verProto = textOf(c, false); break;
      case SESSION_ID: if (sessionID !== undefined) bail(); sessionID = textOf(c, false); break;
      case MSG_ID: if (msgID !== undefined) bail(); msgID = textOf(c, false); break;
      case TARGET: if (target !== undefined) bail(); target = location(c); break;
      case SOURCE: if (source !== undefined) bail(); source = location(c); break;
      case RESP_URI: if (respURI !== undefined) bail(); respURI = textOf(c, false); break;
      case NO_RESP: if (noResp) bail(); noResp = true; skip(c); break;
      case CRED: if (cred !== undefined) bail(); cred = credOf(c); break;
      case META: if (meta !== undefined) bail(); meta = metaOf(c); break;
      default: bail();
    }
  }
  if (verDTD === undefined || verProto === undefined || sessionID === undefined || msgID === undefined || target === undefined || source === undefined) bail();
  const hdr: SyncHdr = { verDTD, verProto, sessionID, msgID, target, source };
  if (respURI !== undefined) hdr.respURI = respURI;
  if (noResp) hdr.noResp = true;
  if (cred !== undefined) hdr.cred = cred;
  if (meta !== undefined) hdr.meta = meta;
  return hdr;
}
