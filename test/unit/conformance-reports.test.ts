/**
 * The plan run's reports: JUnit XML read back by a real XML parser (saxes) with the counts and
 * attributes CI systems read, and the self-contained HTML read back by a DOM (happy-dom): summary,
 * verdicts, checks, the sequence diagram (one arrow per message with MsgID and commands) and the
 * messages. A device controls much of the text: hostile strings stay text, the XML stays well-formed.
 */
import { SaxesParser } from 'saxes';
import { Window } from 'happy-dom';
import { describe, expect, it } from 'vitest';
import { toJUnit } from '../../main/judge/conformance/junit.js';
import { MAX_XML_SHOWN, toHtml } from '../../main/judge/conformance/html-report.js';
import { describeMessage } from '../../main/judge/conformance/evidence.js';
import { caseResult, msg, planResult, syncml } from '../helpers/conformance-fixture.js';

interface XNode {
  name: string;
  attrs: Record<string, string>;
  children: XNode[];
  text: string;
}

/** A strict XML 1.0 read (saxes throws on anything not well-formed). */
function readXml(xml: string): XNode {
  const parser = new SaxesParser({ xmlns: false });
  const root: XNode = { name: '#doc', attrs: {}, children: [], text: '' };
  const stack: XNode[] = [root];
  parser.on('opentag', (t) => {
    const n: XNode = { name: t.name, attrs: t.attributes as Record<string, string>, children: [], text: '' };
    stack[stack.length - 1]!.children.push(n);
    stack.push(n);
  });
  parser.on('closetag', () => void stack.pop());
  parser.on('text', (t) => (stack[stack.length - 1]!.text += t));
  parser.on('error', (e) => {
    throw e;
  });
  parser.write(xml).close();
  return root.children[0]!;
}

function all(n: XNode, name: string): XNode[] {
  const out: XNode[] = [];
  const walk = (x: XNode) => {
    if (x.name === name) out.push(x);
    x.children.forEach(walk);
  };
  walk(n);
  return out;
}

const HOSTILE = 'bad ]]> <script>alert(1)</script> & "quoted" \'single\' \u0000 \u0007 \uFFFF \uD800 tab\there\r\nnext';

function hostileRun() {
  const evil = syncml(1, `<Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Replace><CmdID>2</CmdID><Item><Data>]]&gt;&lt;script&gt;alert(2)&lt;/script&gt;</Data></Item></Replace>`)
    .replace('<SyncBody>', '<SyncBody><!-- ]]> --><![CDATA[<script>alert(3)</script>]]>');
  return planResult([
    caseResult({
      id: 'dm12.evil<id>&',
      verdict: 'fail',
      title: HOSTILE,
      group: `G ${HOSTILE}`,
      detail: HOSTILE,
      clause: HOSTILE,
      checks: [{ what: HOSTILE, expected: HOSTILE, actual: HOSTILE, ok: false, msg: 1, path: HOSTILE }],
      rules: [HOSTILE],
      notRestored: [HOSTILE],
      sessions: [{ sessionId: 3, messages: [msg(1, 'in', evil), msg(2, 'out', `${HOSTILE}<img src=x onerror=alert(4)>`)] }],
    }),
  ]);
}

describe('toJUnit', () => {
  it('reads back with the counts and attributes CI systems use', () => {
    const r = planResult();
    const root = readXml(toJUnit(r));
    expect(root.name).toBe('testsuites');
    expect(root.attrs).toMatchObject({ tests: '4', failures: '1', errors: '0', skipped: '2', time: '65.000', timestamp: '2026-12-07T08:00:00' });
    const suites = all(root, 'testsuite');
    expect(suites.map((s) => s.attrs.name)).toEqual(['dm12-client: Get', 'dm12-client: Status', 'dm12-client: Large objects', 'dm12-client: Auth']);
    expect(suites.map((s) => [s.attrs.tests, s.attrs.failures, s.attrs.skipped])).toEqual([['1', '0', '0'], ['1', '1', '0'], ['1', '0', '1'], ['1', '0', '1']]);
    const props = all(suites[0]!, 'property').map((p) => [p.attrs.name, p.attrs.value]);
    expect(props).toEqual([['plan', 'dm12-client'], ['device', 'IMEI:001']]);

    const cases = all(root, 'testcase');
    expect(cases.map((c) => c.attrs.name)).toEqual(['dm12.get.leaf: Case dm12.get.leaf', 'dm12.get.status: Case dm12.get.status', 'dm12.lo.chunks: Case dm12.lo.chunks', 'dm12.auth.hmac: Case dm12.auth.hmac']);
    expect(cases[1]!.attrs).toMatchObject({ classname: 'dm12-client.Status', time: '1.234' });
    // pass: no failure, no skipped
    expect(cases[0]!.children.map((c) => c.name)).toEqual(['system-out']);
    // fail: message = detail, body = the failed check with its clause
    const failure = all(cases[1]!, 'failure')[0]!;
    expect(failure.attrs).toEqual({ message: 'why dm12.get.status is fail', type: 'fail' });
    expect(failure.text).toContain('OMA-TS-DM_Protocol-V1_2 §6.6.8');
    expect(failure.text).toContain('[FAIL] Status code for Get: expected 200; actual 500 (message 3 SyncBody/Status[2]/Data) [rule status.code-valid]');
    // inconclusive and not applicable: skipped, the message says which
    expect(all(cases[2]!, 'skipped')[0]!.attrs.message).toBe('inconclusive: why dm12.lo.chunks is inconclusive');
    expect(all(cases[3]!, 'skipped')[0]!.attrs.message).toBe('not applicable: why dm12.auth.hmac is not-applicable');
    expect(all(root, 'error')).toHaveLength(0);
    const out = all(cases[1]!, 'system-out')[0]!.text;
    expect(out).toContain('verdict: fail');
    expect(out).toContain('expert rules (error severity): status.code-valid');
    expect(out).toContain('sessions: 7 (4 messages)');
  });

  it('stays well-formed with a hostile detail (]]>, <, &, NUL, lone surrogate) and keeps it readable', () => {
    const xml = toJUnit(hostileRun());
    const root = readXml(xml); // throws when not well-formed
    const failure = all(root, 'failure')[0]!;
    // \u0000, \u0007, \uFFFF and a lone surrogate cannot be in XML at all: shown as \uXXXX text.
    expect(failure.attrs.message).toBe('bad ]]> <script>alert(1)</script> & "quoted" \'single\' \\u0000 \\u0007 \\uFFFF \\uD800 tab here next');
    expect(all(root, 'testcase')[0]!.attrs.name).toContain('dm12.evil<id>&: bad ]]> <script>');
    expect(all(root, 'system-out')[0]!.text).toContain('clause: bad ]]> <script>alert(1)</script> & "quoted"');
    expect(all(root, 'script')).toHaveLength(0);
    expect(xml).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/);
  });

  it('keeps tabs and newlines in attributes through attribute normalisation', () => {
    const r = planResult([caseResult({ id: 'x', verdict: 'fail', title: 'a\tb\nc' })]);
    expect(all(readXml(toJUnit(r)), 'testcase')[0]!.attrs.name).toBe('x: a\tb\nc');
  });
});

function readHtml(html: string) {
  const w = new Window();
  return new w.DOMParser().parseFromString(html, 'text/html');
}

describe('toHtml', () => {
  it('has the summary, the cases coloured by verdict, checks, a sequence diagram per session and the messages', () => {
    const html = toHtml(planResult());
    const doc = readHtml(html);
    expect(doc.title).toBe('Conformance dm12-client · IMEI:001');
    const summary = doc.querySelector('dl.summary')!.textContent!;
    expect(summary).toContain('dm12-client');
    expect(summary).toContain('IMEI:001');
    expect(summary).toContain('2026-12-07 08:00:00 UTC');
    expect(summary).toContain('(65.0 s)');
    expect(doc.querySelector('.banner')!.textContent).toBe('1 of 4 cases failed');

    const rows = [...doc.querySelectorAll('table.cases tbody tr')];
    expect(rows.map((r) => [r.getAttribute('data-case'), r.getAttribute('data-verdict')])).toEqual([
      ['dm12.get.leaf', 'pass'], ['dm12.get.status', 'fail'], ['dm12.lo.chunks', 'inconclusive'], ['dm12.auth.hmac', 'not-applicable'],
    ]);
    expect(rows[1]!.querySelector('.v')!.className).toBe('v v-fail');
    expect(html).toMatch(/\.v-fail \{ background: var\(--fail\)/);

    const failed = doc.querySelector('details.case[data-case="dm12.get.status"]')!;
    expect(failed.hasAttribute('open')).toBe(true);
    expect(doc.querySelector('details.case[data-case="dm12.get.leaf"]')!.hasAttribute('open')).toBe(false);
    const check = failed.querySelector('table.checks tbody tr')!;
    expect([...check.querySelectorAll('td')].map((td) => td.textContent)).toEqual(['✗', 'Status code for Get status.code-valid', '200', '500', 'message 3 · SyncBody/Status[2]/Data']);

    // The diagram: device and server lanes, one arrow per message with its MsgID and commands.
    const svg = failed.querySelector('svg')!;
    expect([...svg.querySelectorAll('text.lane')].map((t) => t.textContent)).toEqual(['Device', 'Server']);
    const arrows = [...svg.querySelectorAll('g.msg')];
    expect(arrows.map((g) => g.getAttribute('class'))).toEqual(['msg in', 'msg out', 'msg in', 'msg out']);
    expect(arrows.map((g) => g.querySelector('text.l')!.textContent)).toEqual([
      '#1 · MsgID 1 · Alert 1201 · Replace',
      '#2 · MsgID 1 · Status×2 (212, 200) · Get',
      '#3 · MsgID 2 · Status×2 (200) · Results',
      '#4 · MsgID 2 · Status (200)',
    ]);
    // The SVG is well-formed XML by itself too.
    for (const m of html.matchAll(/<svg[\s\S]*?<\/svg>/g)) expect(() => readXml(m[0])).not.toThrow();

    const messages = [...failed.querySelectorAll('details.msg')];
    expect(messages).toHaveLength(4);
    expect(messages[1]!.querySelector('summary')!.textContent).toBe('#2 server → device · MsgID 1 · ' + `${messages[1]!.querySelector('pre')!.textContent!.length} B · Status×2 (212, 200) · Get`);
    expect(messages[1]!.querySelector('pre')!.textContent).toContain('<LocURI>./DevInfo/Mod</LocURI>');
    expect(doc.querySelector('details.case[data-case="dm12.lo.chunks"]')!.textContent).toContain('No session');
  });

  it('is self-contained and inert: no script, no external URL, a CSP that allows nothing else', () => {
    const html = toHtml(hostileRun());
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    // No URL the browser would load: no src/href but in-page anchors (below), no url() or @import in the CSS.
    expect(html).not.toMatch(/url\(|@import/i);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
    const doc = readHtml(html);
    expect(doc.querySelectorAll('script, img, iframe, object, embed, link')).toHaveLength(0);
    for (const el of doc.querySelectorAll('*')) {
      for (const a of el.getAttributeNames()) expect(a.startsWith('on'), `${el.tagName} ${a}`).toBe(false);
      const href = el.getAttribute('href');
      if (href !== null) expect(href).toMatch(/^#case-\d+$/);
    }
    // The hostile strings are there as text, readable.
    const body = doc.body.textContent!;
    expect(body).toContain('bad ]]> <script>alert(1)</script> & "quoted" \'single\' \\u0000 \\u0007 \\uFFFF \\uD800');
    expect(body).toContain('<img src=x onerror=alert(4)>');
    const pre = doc.querySelectorAll('details.msg pre')[0]!.textContent!;
    expect(pre).toContain('<![CDATA[<script>alert(3)</script>]]>');
    expect(pre).toContain('&lt;script&gt;alert(2)');
    // The hostile message still gets its arrow (it is SyncML with odd content); the garbage one is labelled.
    const labels = [...doc.querySelectorAll('svg g.msg text.l')].map((t) => t.textContent);
    expect(labels[0]).toBe('#1 · MsgID 1 · Alert 1201 · Replace');
    expect(labels[1]).toBe('#2 · MsgID ? · not SyncML XML');
  });

  it('shows a very large message cut, saying how much is left out', () => {
    const big = syncml(1, `<Replace><CmdID>1</CmdID><Item><Data>${'A'.repeat(MAX_XML_SHOWN + 5000)}</Data></Item></Replace>`);
    const html = toHtml(planResult([caseResult({ id: 'lo', verdict: 'pass', sessions: [{ sessionId: null, messages: [msg(1, 'in', big)] }] })]));
    expect(html.length).toBeLessThan(MAX_XML_SHOWN + 40_000);
    expect(html).toContain(`… ${big.length - MAX_XML_SHOWN} more characters not shown`);
    expect(html).toContain('Session 1 (not stored)');
  });
});

describe('describeMessage', () => {
  it('reads MsgID, commands and Final; a message without Final is marked', () => {
    const d = describeMessage(msg(2, 'in', syncml(5, '<Status><CmdID>1</CmdID><Data>200</Data></Status><Status><CmdID>2</CmdID><Data>213</Data></Status><Alert><CmdID>3</CmdID><Data>1222</Data></Alert>', false), 300), Date.UTC(2026, 11, 7, 8, 0, 0) + 100);
    expect(d).toEqual({ seq: 2, direction: 'in', offsetMs: 200, size: d.size, msgId: '5', commands: 'Status×2 (200, 213) · Alert 1222', final: false });
  });
});
