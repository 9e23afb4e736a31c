/**
 * What a bootstrap message provisions, as a flat node list, and its difference from a profile:
 * "what is on this card, and is it what the profile says?".
 * Works on both forms (Add/Replace items, and TNDS documents in an item).
 */
import { decodeMessage } from '../protocol/codec.js';
import { describeCodecError } from '../protocol/errors.js';
import { isElement, type Element } from '../protocol/element.js';
import type { Command, Item, SyncML } from '../protocol/model.js';
import { childPath } from '../tree/uri.js';
import { bootstrapNodes } from './message.js';
import type { BootstrapProfile } from './profile.js';

export interface ProvisionedNode {
  uri: string;
  command: string;
  format?: string;
  value?: string;
}

export class BootstrapDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootstrapDecodeError';
  }
}

/** Decode bootstrap bytes (WBXML or XML) to the typed message; throws BootstrapDecodeError naming the position. */
export function decodeBootstrap(bytes: Uint8Array): SyncML {
  const r = decodeMessage(bytes);
  if (!r.ok) throw new BootstrapDecodeError(`not a DM bootstrap message: ${describeCodecError(r.error)}`);
  return r.value.message;
}

/** Every node the message adds or replaces, in message order. */
export function provisionedNodes(msg: SyncML): ProvisionedNode[] {
  const out: ProvisionedNode[] = [];
  const visit = (cmds: readonly Command[]): void => {
    for (const c of cmds) {
      if (c.kind === 'Atomic' || c.kind === 'Sequence') visit(c.commands);
      else if (c.kind === 'Add' || c.kind === 'Replace') for (const i of c.items) fromItem(c.kind, i, c.meta?.format, out);
    }
  };
  visit(msg.body.commands);
  return out;
}

function fromItem(command: string, i: Item, cmdFormat: string | undefined, out: ProvisionedNode[]): void {
  const uri = i.target?.locURI;
  if (!uri) return;
  const d = i.data;
  if (d?.kind === 'xml') {
    for (const e of d.elements) if (e.name === 'MgmtTree') for (const n of e.children) if (isElement(n) && n.name === 'Node') fromTnds(command, uri, n, out);
    return;
  }
  const n: ProvisionedNode = { uri, command };
  const format = i.meta?.format ?? cmdFormat;
  if (format !== undefined) n.format = format;
  if (d?.kind === 'text') n.value = d.text;
  else if (d?.kind === 'binary') n.value = Buffer.from(d.bytes).toString('base64');
  out.push(n);
}

function text(e: Element | undefined): string | undefined {
  if (!e) return undefined;
  return e.children.filter((c): c is string => typeof c === 'string').join('');
}

function child(e: Element, name: string): Element | undefined {
  return e.children.find((c): c is Element => isElement(c) && c.name === name);
}

function fromTnds(command: string, parentUri: string, node: Element, out: ProvisionedNode[]): void {
  const name = text(child(node, 'NodeName')) ?? '';
  const path = text(child(node, 'Path'));
  const uri = childPath(path ?? parentUri, name);
  const props = child(node, 'RTProperties');
  const fmt = props && child(props, 'Format');
  const format = fmt ? (fmt.children.find(isElement)?.name ?? text(fmt)?.trim()) : undefined;
  const value = child(node, 'Value');
  const n: ProvisionedNode = { uri, command };
  if (format) n.format = format;
  else n.format = value ? 'chr' : 'node';
  if (value) n.value = text(value) ?? '';
  out.push(n);
  for (const k of node.children) if (isElement(k) && k.name === 'Node') fromTnds(command, uri, k, out);
}

export interface NodeDifference {
  uri: string;
  kind: 'missing-on-card' | 'extra-on-card' | 'value' | 'format';
  card?: string;
  profile?: string;
}

const SECRET_LEAF = /\/(AAuthSecret|AAuthData)$/;

/** Differences between what the message provisions and what the profile asks for. */
export function diffAgainstProfile(msg: SyncML, profile: BootstrapProfile): NodeDifference[] {
  const card = new Map(provisionedNodes(msg).map((n) => [n.uri, n]));
  const want = bootstrapNodes(profile);
  const out: NodeDifference[] = [];
  for (const w of want) {
    const c = card.get(w.uri);
    card.delete(w.uri);
    if (!c) {
      // A Replace bootstrap carries no interior nodes: not a difference.
      if (w.format === 'node' && (profile.operation ?? 'Add') === 'Replace') continue;
      const d: NodeDifference = { uri: w.uri, kind: 'missing-on-card' };
      if (w.value !== undefined) d.profile = w.value;
      out.push(d);
      continue;
    }
    if (c.format !== undefined && c.format !== w.format) out.push({ uri: w.uri, kind: 'format', card: c.format, profile: w.format });
    else if (w.format !== 'node' && (c.value ?? '') !== (w.value ?? '')) out.push({ uri: w.uri, kind: 'value', card: c.value ?? '', profile: w.value ?? '' });
  }
  for (const c of card.values()) {
    const d: NodeDifference = { uri: c.uri, kind: 'extra-on-card' };
    if (c.value !== undefined) d.card = c.value;
    out.push(d);
  }
  return out;
}

/** One line per difference; secret values shown as *** unless asked. */
export function formatDiff(diffs: readonly NodeDifference[], opts: { showSecrets?: boolean } = {}): string {
  if (diffs.length === 0) return 'no differences: the bootstrap provisions exactly what the profile says\n';
  const show = (uri: string, v: string | undefined): string => (v === undefined ? '' : SECRET_LEAF.test(uri) && !opts.showSecrets ? '***' : JSON.stringify(v));
  return (
    diffs
      .map((d) => {
        switch (d.kind) {
          case 'missing-on-card':
            return `+ ${d.uri}${d.profile !== undefined ? ` = ${show(d.uri, d.profile)}` : ''}   (in the profile, not on the card)`;
          case 'extra-on-card':
            return `- ${d.uri}${d.card !== undefined ? ` = ${show(d.uri, d.card)}` : ''}   (on the card, not in the profile)`;
          case 'format':
            return `~ ${d.uri}: format ${d.card} on the card, ${d.profile} in the profile`;
          case 'value':
            return `~ ${d.uri}: card ${show(d.uri, d.card)}, profile ${show(d.uri, d.profile)}`;
        }
      })
      .join('\n') + '\n'
  );
}
