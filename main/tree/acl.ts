/**
 * DM access control lists (OMA DM 1.2 TND §8.3.7.1).
 *
 *   <acl>                ::= <acl-value> | (no value)
 *   <acl-value>          ::= <acl-entry> | <acl-value> '&' <acl-entry>
 *   <acl-entry>          ::= <command> '=' <server-identifiers>
 *   <server-identifiers> ::= <server-identifier> | <server-identifier> '+' <server-identifiers>
 *   <server-identifier>  ::= '*' | printable characters except '=', '&', '*', '+' and white space
 *   <command>            ::= Add | Delete | Exec | Get | Replace
 *
 * Semantics kept here (the tree applies them):
 *  - only a wholly empty ACL inherits, from the nearest ancestor with a value; no per-command merge;
 *  - a command listed with no server is malformed ("MUST NOT be present");
 *  - `*` overrides the other identifiers of its entry, so canonical form keeps `*` alone;
 *  - a command given twice (`Get=a&Get=b`) is the union: the grammar allows it;
 *  - canonical text lists commands in the order Add, Delete, Exec, Get, Replace (as the Android DM
 *    engine prints them) and identifiers in first-seen order without duplicates.
 * Parsed ACLs are immutable and interned by canonical text, so a million nodes holding the same ACL
 * hold one object.
 */
import type { Result } from '../protocol/errors.js';
import type { AccessExplanation, DmTree } from './tree.js';

export const ACL_COMMANDS = ['Add', 'Delete', 'Exec', 'Get', 'Replace'] as const;
export type AclCommand = (typeof ACL_COMMANDS)[number];

/** Index of each command in ACL_COMMANDS (hot paths use the number). */
export const CMD = { Add: 0, Delete: 1, Exec: 2, Get: 3, Replace: 4 } as const satisfies Record<AclCommand, number>;

export type AclErrorCode = 'bad-command' | 'missing-equals' | 'no-server' | 'bad-server-id' | 'empty-entry';

export interface AclError {
  code: AclErrorCode;
  message: string;
  /** 0-based index into the ACL text (UTF-16 units; ACL text is printable ASCII in practice). */
  position: number;
  text: string;
}

/** `*` for everyone, or the server identifiers granted. */
export type Grantees = '*' | readonly string[];

export class Acl {
  /** Canonical text; '' for the empty ACL (which inherits). */
  readonly text: string;
  readonly isEmpty: boolean;
  /** Bit i set: command i is granted to everyone. */
  private readonly star: number;
  /** Server ids per command index; undefined when the command is absent or starred. */
  private readonly ids: ReadonlyArray<readonly string[] | undefined>;

  /** Use parseAcl / aclFromEntries; the constructor trusts its input. */
  constructor(star: number, ids: ReadonlyArray<readonly string[] | undefined>) {
    this.star = star;
    this.ids = ids;
    let text = '';
    for (let i = 0; i < ACL_COMMANDS.length; i++) {
      const g = star & (1 << i) ? '*' : ids[i]?.join('+');
      if (!g) continue;
      text += (text ? '&' : '') + ACL_COMMANDS[i] + '=' + g;
    }
    this.text = text;
    this.isEmpty = text === '';
  }

  /** Does this ACL (taken as the effective one) let `serverId` run command index `cmd`? */
  allowsIndex(cmd: number, serverId: string): boolean {
    if (this.star & (1 << cmd)) return true;
    const list = this.ids[cmd];
    return list !== undefined && list.includes(serverId);
  }

  allows(cmd: AclCommand, serverId: string): boolean {
    return this.allowsIndex(CMD[cmd], serverId);
  }

  grantees(cmd: AclCommand): Grantees | undefined {
    const i = CMD[cmd];
    if (this.star & (1 << i)) return '*';
    return this.ids[i];
  }

  /** True when `serverId` appears by name in any entry (not through `*`). */
  mentions(serverId: string): boolean {
    for (const list of this.ids) if (list?.includes(serverId)) return true;
    return false;
  }

  /** Entries as a plain record, e.g. { Get: '*', Replace: ['srvA'] }. */
  entries(): Partial<Record<AclCommand, Grantees>> {
    const out: Partial<Record<AclCommand, Grantees>> = {};
    for (const c of ACL_COMMANDS) {
      const g = this.grantees(c);
      if (g !== undefined) out[c] = g;
    }
    return out;
  }

  toString(): string {
    return this.text;
  }
}

const intern = new Map<string, Acl>();
// The intern table only ever holds distinct ACL texts; a fuzzer could make it grow, so past this size
// new ACLs are still correct, just not shared.
const INTERN_LIMIT = 100_000;

function internAcl(acl: Acl): Acl {
  const hit = intern.get(acl.text);
  if (hit) return hit;
  if (intern.size < INTERN_LIMIT) intern.set(acl.text, acl);
  return acl;
}

export const EMPTY_ACL: Acl = internAcl(new Acl(0, [undefined, undefined, undefined, undefined, undefined]));

/** The root's default value (TND §8.3.7.1.2). */
export const DEFAULT_ROOT_ACL_TEXT = 'Add=*&Get=*';

function aclError(code: AclErrorCode, text: string, position: number, why: string): { ok: false; error: AclError } {
  return { ok: false, error: { code, text, position, message: `bad ACL ${JSON.stringify(text)} at position ${position}: ${why}` } };
}

function isServerIdChar(c: number): boolean {
  // printable (no controls, no whitespace), and not one of the grammar's own characters
  return c > 0x20 && c !== 0x7f && c !== 0x3d /* = */ && c !== 0x26 /* & */ && c !== 0x2a /* * */ && c !== 0x2b /* + */ && !(c >= 0x80 && c <= 0xa0) && c !== 0x2028 && c !== 0x2029 && c !== 0x3000 && c !== 0xfeff;
}

/** Parse ACL text ('' is the empty ACL). The result is interned. */
export function parseAcl(text: string): Result<Acl, AclError> {
  const cached = intern.get(text);
  if (cached) return { ok: true, value: cached };
  if (text === '') return { ok: true, value: EMPTY_ACL };
  let star = 0;
  const ids: (string[] | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  // Linear in the text: a Set per command for duplicates (list.includes made a long ACL quadratic),
  // and the next '+' remembered (indexOf('+') from every identifier scanned to the end each time).
  const seen: (Set<string> | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  let nextPlus = -2;
  let pos = 0;
  while (pos <= text.length) {
    const entryEnd = indexOrEnd(text, '&', pos);
    if (entryEnd === pos) return aclError('empty-entry', text, pos, "empty entry (stray '&')");
    const eq = text.indexOf('=', pos);
    if (eq < 0 || eq > entryEnd) return aclError('missing-equals', text, pos, "entry has no '=' (expected <command>=<servers>)");
    const cmdName = text.slice(pos, eq);
    const cmd = (ACL_COMMANDS as readonly string[]).indexOf(cmdName);
    if (cmd < 0) {
      return aclError('bad-command', text, pos, `"${cmdName}" is not an ACL command (Add, Delete, Exec, Get, Replace)`);
    }
    if (eq + 1 === entryEnd) return aclError('no-server', text, eq + 1, `${cmdName} has no server identifier`);
    let p = eq + 1;
    while (p <= entryEnd) {
      if (nextPlus !== -1 && nextPlus < p) nextPlus = text.indexOf('+', p);
      const idEnd = nextPlus < 0 ? entryEnd : Math.min(nextPlus, entryEnd);
      if (idEnd === p) return aclError('no-server', text, p, "empty server identifier (stray '+')");
      const id = text.slice(p, idEnd);
      if (id === '*') star |= 1 << cmd;
      else {
        for (let k = 0; k < id.length; k++) {
          if (!isServerIdChar(id.charCodeAt(k))) {
            const ch = JSON.stringify(id[k]);
            return aclError('bad-server-id', text, p + k, `character ${ch} is not allowed in a server identifier`);
          }
        }
        const set = (seen[cmd] ??= new Set());
        if (!set.has(id)) {
          set.add(id);
          (ids[cmd] ??= []).push(id);
        }
      }
      p = idEnd + 1;
    }
    pos = entryEnd + 1;
    if (entryEnd === text.length) break;
    if (pos === text.length) return aclError('empty-entry', text, entryEnd, "ACL ends with '&'");
  }
  for (let i = 0; i < ids.length; i++) if (star & (1 << i)) ids[i] = undefined;
  return { ok: true, value: internAcl(new Acl(star, ids)) };
}

function indexOrEnd(s: string, ch: string, from: number): number {
  const i = s.indexOf(ch, from);
  return i < 0 ? s.length : i;
}

/** Parse, throwing on malformed input: for ACL literals in code (MO definitions, tests). */
export function acl(text: string): Acl {
  const r = parseAcl(text);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** Build an ACL from entries, e.g. aclFromEntries({ Get: '*', Replace: ['srvA'] }). */
export function aclFromEntries(entries: Partial<Record<AclCommand, Grantees>>): Result<Acl, AclError> {
  const parts: string[] = [];
  for (const c of ACL_COMMANDS) {
    const g = entries[c];
    if (g === undefined) continue;
    parts.push(`${c}=${g === '*' ? '*' : g.join('+')}`);
  }
  return parseAcl(parts.join('&'));
}

/**
 * The ACL without `serverId` (TND §8.3.7.1.4): a command left with no server is removed. On the root a
 * command left with no server becomes `*` instead, so the root keeps a value.
 */
export function withoutServer(a: Acl, serverId: string, isRoot: boolean): Acl {
  if (!a.mentions(serverId)) return a;
  const entries = a.entries();
  for (const c of ACL_COMMANDS) {
    const g = entries[c];
    if (g === undefined || g === '*') continue;
    const rest = g.filter((id) => id !== serverId);
    if (rest.length > 0) entries[c] = rest;
    else if (isRoot) entries[c] = '*';
    else delete entries[c];
  }
  const r = aclFromEntries(entries);
  if (!r.ok) throw new Error(`internal: ${r.error.message}`); // cannot happen: ids came from a parsed ACL
  return r.value;
}

/** The ACL the tree gives a new interior node added by a server without Replace on the parent. */
export function creatorAcl(serverId: string): Acl {
  const r = aclFromEntries({ Add: [serverId], Delete: [serverId], Replace: [serverId] });
  if (!r.ok) throw new Error(`server identifier ${JSON.stringify(serverId)} cannot appear in an ACL: ${r.error.message}`);
  return r.value;
}

/** Is `id` usable as a server identifier inside ACLs? */
export function isValidServerId(id: string): boolean {
  if (id.length === 0) return false;
  for (let k = 0; k < id.length; k++) if (!isServerIdChar(id.charCodeAt(k))) return false;
  return true;
}

/** Minimal node shape the ACL walk needs (tree nodes satisfy it). */
export interface AclNode {
  readonly acl: Acl;
  readonly parent: AclNode | null;
}

/** The nearest node, from `node` up, whose ACL has a value. The root always has one. */
export function aclSource<N extends AclNode>(node: N): N {
  let n: AclNode = node;
  while (n.acl.isEmpty && n.parent !== null) n = n.parent;
  return n as N;
}

/**
 * Why `serverId` may or may not run `command` on `path`: the ACL text that decided, the node it sits on
 * (`fromPath`), whether it was inherited, and the status the tree would answer (200/404/405/425).
 * `path?prop=ACL` with Replace explains an ACL change (Replace on the node or its parent; leaves:
 * the parent only). Add on a missing node is evaluated on its deepest existing ancestor.
 */
export function explain(tree: DmTree, serverId: string, command: AclCommand, path: string): AccessExplanation {
  return tree.explainAccess(serverId, command, path);
}
