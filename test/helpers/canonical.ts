/**
 * Canonical forms for comparing documents that came through different codecs (ours, libwbxml).
 * Character data is compared as bytes, so text, CDATA and OPAQUE holding the same bytes are equal,
 * which is what "the same document" means across XML and WBXML.
 */
import type { Child, Element, Namespace } from '../../main/protocol/element.js';
import { isElement } from '../../main/protocol/element.js';
import { isDataElement, namespaceFromUri } from '../../main/protocol/names.js';

const enc = new TextEncoder();

export function canonicalTree(e: Element): string {
  let out = `<${e.ns}:${e.name}>`;
  let run: number[] | undefined;
  const flush = () => {
    if (run) out += `"${Buffer.from(run).toString('hex')}"`;
    run = undefined;
  };
  for (const c of e.children as Child[]) {
    if (isElement(c)) {
      flush();
      out += canonicalTree(c);
    } else {
      const bytes = typeof c === 'string' ? enc.encode(c) : c;
      (run ??= []).push(...bytes);
    }
  }
  flush();
  return `${out}</${e.name}>`;
}

/**
 * Reads wbxml2xml's output leniently: it writes OPAQUE data as raw bytes inside CDATA, which is not
 * always well-formed XML, so a real XML parser cannot be the judge here. Returns the same tree shape
 * our codecs produce (trimmed text outside data elements, layout whitespace dropped).
 */
export function treeFromLibwbxmlXml(buf: Uint8Array): Element {
  const s = Buffer.from(buf).toString('latin1'); // one char per byte: raw bytes survive
  let i = 0;
  const stack: { el: Element; bytes: number[] }[] = [];
  let root: Element | undefined;
  const bytesOf = (t: string) => Array.from(Buffer.from(t, 'latin1'));
  const flush = (top: { el: Element; bytes: number[] }) => {
    if (top.bytes.length === 0) return;
    const b = Uint8Array.from(top.bytes);
    top.bytes = [];
    const text = Buffer.from(b).toString('utf8');
    const data = isDataElement(top.el.ns, top.el.name);
    if (data) top.el.children.push(b);
    else if (text.trim() !== '') top.el.children.push(enc.encode(text.trim()));
  };
  while (i < s.length) {
    if (s.startsWith('<?', i)) { i = s.indexOf('?>', i) + 2; continue; }
    if (s.startsWith('<!DOCTYPE', i)) { i = s.indexOf('>', i) + 1; continue; }
    if (s.startsWith('<![CDATA[', i)) {
      const end = s.indexOf(']]>', i);
      stack[stack.length - 1]!.bytes.push(...bytesOf(s.slice(i + 9, end)));
      i = end + 3;
      continue;
    }
    if (s.startsWith('</', i)) {
      const end = s.indexOf('>', i);
      const top = stack.pop()!;
      flush(top);
      // Whitespace-only character data around child elements is layout.
      if (top.el.children.some(isElement)) top.el.children = top.el.children.filter((c) => isElement(c) || Buffer.from(c as Uint8Array).toString('utf8').trim() !== '');
      i = end + 1;
      continue;
    }
    if (s[i] === '<') {
      const end = s.indexOf('>', i);
      let tag = s.slice(i + 1, end);
      const selfClosing = tag.endsWith('/');
      if (selfClosing) tag = tag.slice(0, -1);
      const [name, ...attrs] = tag.trim().split(/\s+/);
      const parent = stack[stack.length - 1];
      let ns: Namespace | undefined = parent?.el.ns;
      for (const a of attrs) {
        const m = /^xmlns=["'](.*)["']$/.exec(a);
        if (m) ns = namespaceFromUri(m[1]!);
      }
      const el: Element = { ns: ns ?? 'syncml', name: name!, children: [] };
      if (parent) { flush(parent); parent.el.children.push(el); } else root = el;
      if (!selfClosing) stack.push({ el, bytes: [] });
      i = end + 1;
      continue;
    }
    const next = s.indexOf('<', i);
    const raw = s.slice(i, next < 0 ? s.length : next);
    const text = Buffer.from(raw, 'latin1').toString('utf8')
      .replace(/&#x([0-9a-fA-F]+);/g, (_, h) => String.fromCodePoint(parseInt(h, 16)))
      .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
      .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
    if (stack.length > 0) stack[stack.length - 1]!.bytes.push(...enc.encode(text));
    i = next < 0 ? s.length : next;
  }
  if (!root) throw new Error('wbxml2xml output has no root element');
  return root;
}
