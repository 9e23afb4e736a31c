/**
 * The fast path's readers of the parts commands and the header share: Item (and its Data), Target and
 * Source (Location), Cred, Chal and Meta with its MetInf elements. Each is called with the content
 * flag of the tag next() just read, reads to the element's end and returns readMessage's object
 * (same keys, same order), or bails.
 */
import type { Chal, Cred, Item, ItemData, Location, Meta } from '../model.js';
import {
  ANCHOR, DATA, EMI, FIELD_LEVEL, FORMAT, FREE_ID, FREE_MEM, LAST, LOC_NAME, LOC_URI, MARK, MAX_MSG_SIZE, MAX_OBJ_SIZE, MEM, META,
  MET_INF, MORE_DATA, NEXT, NEXT_NONCE, SHARED_MEM, SIZE, SOURCE, TARGET, TYPE, VERSION,
} from './fast-tags.js';
import { bail, K_END, K_OPAQUE, K_TAG, K_TEXT, next, nextChild, opaqueBytes, skip, tagContent, tagId, tagPage, text, textOf } from './fast-tokens.js';

export function item(content: boolean): Item {
  let target: Location | undefined, source: Location | undefined;
  let meta: Meta | undefined, data: ItemData | undefined;
  let moreData = false;
  if (content) {
    while (nextChild() === K_TAG) {
      if (tagPage !== 0) bail();
      const c = tagContent;
      switch (tagId) {
        case TARGET: if (target !== undefined) bail(); target = location(c); break;
        case SOURCE: if (source !== undefined) bail(); source = location(c); break;
        case META: if (meta !== undefined) bail(); meta = metaOf(c); break;
        case DATA: if (data !== undefined) bail(); data = itemData(c); break;
        case MORE_DATA: if (moreData) bail(); moreData = true; skip(c); break;
        default: bail();
      }
    }
  }
  const it: Item = {};
  if (target !== undefined) it.target = target;
  if (source !== undefined) it.source = source;
  if (meta !== undefined) it.meta = meta;
  if (data !== undefined) it.data = data;
  if (moreData) it.moreData = true;
  return it;
}

/** An Item's Data: text, OPAQUE bytes, or both in order (then bytes); elements (embedded XML) go to the tree path. */
function itemData(content: boolean): ItemData {
  if (!content) return { kind: 'text', text: '' };
  let first: string | Uint8Array | undefined;
  let parts: (string | Uint8Array)[] | undefined;
  for (let k = next(); k !== K_END; k = next()) {
    if (k === K_TAG) bail();
    if (k === K_TEXT) {
      if (text.length === 0) continue;
      // Adjacent text pieces are one piece of character data.
      if (parts !== undefined) {
        const last = parts.length - 1;
        if (typeof parts[last] === 'string') parts[last] += text;
        else parts.push(text);
      } else if (first === undefined) first = text;
      else if (typeof first === 'string') first += text;
      else parts = [first, text];
    } else {
      const bytes = opaqueBytes();
      if (parts !== undefined) parts.push(bytes);
      else if (first === undefined) first = bytes;
      else parts = [first, bytes];
    }
  }
  if (parts === undefined) {
    if (first === undefined) return { kind: 'text', text: '' };
    return typeof first === 'string' ? { kind: 'text', text: first } : { kind: 'binary', bytes: first };
  }
  // Text pieces and OPAQUE mixed (some encoders split long values): the bytes, in order.
  const enc = new TextEncoder();
  return { kind: 'binary', bytes: new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? enc.encode(p) : p)))) };
}

export function location(content: boolean): Location {
  let locURI: string | undefined, locName: string | undefined;
  if (content) {
    while (nextChild() === K_TAG) {
      if (tagPage !== 0) bail();
      if (tagId === LOC_URI && locURI === undefined) locURI = textOf(tagContent, false);
      else if (tagId === LOC_NAME && locName === undefined) locName = textOf(tagContent, false);
      else bail();
    }
  }
  if (locURI === undefined) bail();
  const loc: Location = { locURI };
  if (locName !== undefined) loc.locName = locName;
  return loc;
}

export function credOf(content: boolean): Cred {
  let data: string | undefined;
  let meta: Meta | undefined;
  if (content) {
    while (nextChild() === K_TAG) {
      if (tagPage !== 0) bail();
      if (tagId === DATA && data === undefined) data = textOf(tagContent, true);
      else if (tagId === META && meta === undefined) meta = metaOf(tagContent);
      else bail();
    }
  }
  if (data === undefined) bail();
  const cred: Cred = { data };
  if (meta !== undefined) cred.meta = meta;
  return cred;
}

export function chalOf(content: boolean): Chal {
  let meta: Meta | undefined;
  if (content) {
    while (nextChild() === K_TAG) {
      if (tagPage !== 0 || tagId !== META || meta !== undefined) bail();
      meta = metaOf(tagContent);
    }
  }
  if (meta === undefined) bail();
  return { meta };
}

/**
 * Meta: MetInf elements, in document order on the object; or one MetInf element holding them, when
 * it is the Meta's only child (readMessage looks through it then, and refuses it anywhere else).
 */
export function metaOf(content: boolean): Meta {
  const meta: Meta = {};
  if (!content) return meta;
  let seen = 0;
  let children = 0;
  let wrapped = false;
  for (let k = next(); k !== K_END; k = next()) {
    if (wrapped) {
      // Anything after the MetInf element: it was not the only child, and readMessage refuses it.
      if (k === K_TEXT && text.length === 0) continue;
      bail();
    }
    if (k === K_OPAQUE) bail();
    if (k === K_TEXT) {
      if (text.length === 0) continue;
      if (text.trim() !== '') bail();
      children++;
      continue;
    }
    if (tagPage !== 1) bail();
    if (tagId === MET_INF && children === 0) {
      wrapped = true;
      if (!tagContent) continue;
      while (nextChild() === K_TAG) seen = metaField(meta, seen);
      continue;
    }
    children++;
    seen = metaField(meta, seen);
  }
  return meta;
}

/** One MetInf element of a Meta (its tag just read); returns the names seen so far, as bits of their token ids. */
function metaField(meta: Meta, seen: number): number {
  if (tagPage !== 1) bail();
  const id = tagId;
  const bit = 1 << id;
  if (id !== EMI && seen & bit) bail();
  const c = tagContent;
  switch (id) {
    case FORMAT: meta.format = textOf(c, false); break;
    case TYPE: meta.type = textOf(c, false); break;
    case MARK: meta.mark = textOf(c, false); break;
    case SIZE: meta.size = textOf(c, false); break;
    case NEXT_NONCE: meta.nextNonce = textOf(c, false); break;
    case VERSION: meta.version = textOf(c, false); break;
    case MAX_MSG_SIZE: meta.maxMsgSize = textOf(c, false); break;
    case MAX_OBJ_SIZE: meta.maxObjSize = textOf(c, false); break;
    case FIELD_LEVEL: meta.fieldLevel = true; skip(c); break;
    case EMI: (meta.emi ??= []).push(textOf(c, false)); break;
    case ANCHOR: {
      let last: string | undefined, nextAnchor: string | undefined;
      if (c) {
        while (nextChild() === K_TAG) {
          if (tagPage !== 1) bail();
          if (tagId === LAST && last === undefined) last = textOf(tagContent, false);
          else if (tagId === NEXT && nextAnchor === undefined) nextAnchor = textOf(tagContent, false);
          else bail();
        }
      }
      if (nextAnchor === undefined) bail();
      const anchor: { last?: string; next: string } = { next: nextAnchor };
      if (last !== undefined) anchor.last = last;
      meta.anchor = anchor;
      break;
    }
    case MEM: {
      let freeMem: string | undefined, freeID: string | undefined;
      let sharedMem = false;
      if (c) {
        while (nextChild() === K_TAG) {
          if (tagPage !== 1) bail();
          if (tagId === FREE_MEM && freeMem === undefined) freeMem = textOf(tagContent, false);
          else if (tagId === FREE_ID && freeID === undefined) freeID = textOf(tagContent, false);
          else if (tagId === SHARED_MEM && !sharedMem) {
            sharedMem = true;
            skip(tagContent);
          } else bail();
        }
      }
      if (freeMem === undefined || freeID === undefined) bail();
      const mem: { sharedMem?: boolean; freeMem: string; freeID: string } = { freeMem, freeID };
      if (sharedMem) mem.sharedMem = true;
      meta.mem = mem;
      break;
    }
    default:
      bail();
  }
  return seen | bit;
}
