/**
 * `npm run bench -- ui`: the UI in Debian Chromium against the real backend (WebSocket transport).
 *
 *   first contentful paint          target < 1 s
 *   tree of 100k nodes              load + first render, expand-all render, p95 frame time scrolling (< 16 ms)
 *   session of 10k messages         open (fetch, decode, render), p95 frame time scrolling the diagram (< 16 ms)
 *
 * Frame time is the main thread's time per frame while the list scrolls every frame: from the frame's
 * requestAnimationFrame to a task queued right behind it, which runs after style, layout, paint and
 * the React render the scroll scheduled. The interval between frames is printed too.
 *
 * Fixture: a data folder whose store holds one device with 100k cached tree nodes and one session of
 * 10k logged messages (the corpus's real DM messages, alternating directions) — written with the
 * store's own API for the benchmark only.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Backend } from '../../../main/api/backend.js';
import { ensureRendererBuilt, RENDERER_DIST } from '../../../main/api/ui-build.js';
import { startUiServer } from '../../../main/api/ws-server.js';
import { ServerStore } from '../../../main/store/server-store.js';
import { findChromium, launchBrowser } from '../../e2e/support/browser.js';
import type { BenchContext, BenchSuite, Verdict } from '../suite.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DEVICE = 'IMEI:356938035643809';
const TREE_NODES = 100_000;
const MESSAGES = 10_000;

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] ?? NaN;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function makeFixture(dir: string): void {
  const store = ServerStore.open(dir, { synchronous: 'NORMAL' });
  const now = Date.now();
  store.tx(() => {
    store.touchDevice(DEVICE, now);
    store.setDevInfo(DEVICE, { DevId: DEVICE, Man: 'Acme Mobile', Mod: 'AM-X1' });
    const entries = [];
    // 100k nodes: ./Big/G<0..999>/N<0..98> leaves under 1000 interior nodes, plus the groups.
    entries.push({ uri: './Big', format: 'node', type: null, data: null });
    for (let g = 0; entries.length < TREE_NODES; g++) {
      entries.push({ uri: `./Big/G${g}`, format: 'node', type: null, data: null });
      for (let n = 0; n < 99 && entries.length < TREE_NODES; n++) entries.push({ uri: `./Big/G${g}/N${n}`, format: 'chr', type: 'text/plain', data: `value ${g}.${n}` });
    }
    store.upsertTree(DEVICE, entries, now);
  });
  const client = readFileSync(path.join(ROOT, 'test', 'fixtures', 'corpus', 'client-pkg1.xml'));
  const server = readFileSync(path.join(ROOT, 'test', 'fixtures', 'corpus', 'server-all-commands.xml'));
  store.tx(() => {
    const id = store.createSession({ device: DEVICE, dmSessionId: '1', encoding: 'xml' }, now);
    for (let i = 0; i < MESSAGES; i++) {
      const out = i % 2 === 1;
      store.addMessage({ sessionId: id, direction: out ? 'out' : 'in', at: now + i, durationMs: out ? 1 : null, msgId: String(Math.floor(i / 2) + 1), contentType: 'application/vnd.syncml.dm+xml', httpStatus: out ? 200 : null, bytes: new Uint8Array(out ? server : client) });
    }
    store.endSession(id, 'done', 'bench fixture', now + MESSAGES);
  });
  store.close();
}

/** Scrolls `selector` every frame for `frames` frames; returns per-frame main-thread time and intervals. */
const SCROLL_PROBE = `async ([selector, frames, step]) => {
  const el = document.querySelector(selector);
  if (!el) throw new Error('no ' + selector);
  const work = [], intervals = [];
  const ch = new MessageChannel();
  let last = performance.now();
  for (let i = 0; i < frames; i++) {
    await new Promise((resolve) => requestAnimationFrame((t) => {
      intervals.push(t - last); last = t;
      const start = performance.now();
      el.scrollTop = (el.scrollTop + step) % Math.max(1, el.scrollHeight - el.clientHeight);
      ch.port1.onmessage = () => { work.push(performance.now() - start); resolve(); };
      ch.port2.postMessage(0);
    }));
  }
  return { work, intervals };
}`;

export const suite: BenchSuite = {
  name: 'ui',
  description: 'UI in Chromium: first contentful paint, 100k-node tree, 10k-message session (render and scroll frame times)',
  default: false,
  async run(ctx: BenchContext): Promise<Verdict[]> {
    const log = ctx.log;
    if (!findChromium()) {
      log('ui: Chromium not found (apt-get install chromium); nothing measured\n');
      return [{ target: 'ui first contentful paint < 1 s', pass: undefined, detail: 'no Chromium' }];
    }
    await ensureRendererBuilt(log);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-bench-ui-'));
    let t = performance.now();
    makeFixture(dir);
    log(`ui: fixture (${TREE_NODES} tree nodes, ${MESSAGES} messages) written in ${Math.round(performance.now() - t)} ms`);

    const backend = await Backend.create({ dataDir: dir, handsets: { ok: false, reason: 'benchmark' } });
    const ui = await startUiServer({ backend, staticDir: RENDERER_DIST, port: 0 });
    const browser = await launchBrowser();
    const verdicts: Verdict[] = [];
    try {
      // First contentful paint, on fresh pages.
      const fcps: number[] = [];
      for (let i = 0; i < 5; i++) {
        const p = await browser.newPage();
        await p.goto(ui.urlWithToken, { waitUntil: 'load' });
        await p.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0);
        fcps.push(await p.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]!.startTime));
        await p.close();
      }
      const fcp = median(fcps);
      log(`ui: first contentful paint          median ${fcp.toFixed(0)} ms (of ${fcps.map((x) => x.toFixed(0)).join(', ')})   target < 1000 ms`);
      verdicts.push({ target: 'ui first contentful paint < 1 s', pass: fcp < 1000, detail: `${fcp.toFixed(0)} ms` });

      const page = await browser.newPage();
      await page.goto(ui.urlWithToken, { waitUntil: 'load' });
      await page.locator('[data-device]').first().waitFor();

      // The tree.
      t = performance.now();
      await page.click('[data-view=tree]');
      await page.locator('[data-uri="./Big"]').waitFor({ timeout: 60_000 });
      const treeOpen = performance.now() - t;
      t = performance.now();
      await page.getByRole('button', { name: 'Expand all' }).click();
      await page.locator('[data-uri="./Big/G0/N0"]').waitFor({ timeout: 60_000 });
      const expandAll = performance.now() - t;
      const shown = await page.locator('.view-head .muted').first().textContent();
      const tree = (await page.evaluate(`(${SCROLL_PROBE})(['[data-testid=tree-scroll]', 240, 900])`)) as { work: number[]; intervals: number[] };
      const treeP95 = p95(tree.work);
      log(`ui: tree 100k nodes                 open ${treeOpen.toFixed(0)} ms, expand all ${expandAll.toFixed(0)} ms (${shown?.trim()})`);
      log(`ui: tree scroll                     frame time p95 ${treeP95.toFixed(1)} ms, median ${median(tree.work).toFixed(1)} ms; frame interval p95 ${p95(tree.intervals).toFixed(1)} ms   target p95 < 16 ms`);
      verdicts.push({ target: 'ui tree 100k scroll p95 frame < 16 ms', pass: treeP95 < 16, detail: `${treeP95.toFixed(1)} ms` });

      // The session.
      await page.click('[data-view=sessions]');
      await page.locator('[data-session]').first().waitFor();
      t = performance.now();
      await page.locator('[data-session]').first().click();
      await page.locator('[data-message]').first().waitFor({ timeout: 120_000 });
      const sessionOpen = performance.now() - t;
      const seq = (await page.evaluate(`(${SCROLL_PROBE})(['[data-testid=seq-scroll]', 240, 700])`)) as { work: number[]; intervals: number[] };
      const seqP95 = p95(seq.work);
      log(`ui: session 10k messages            open ${sessionOpen.toFixed(0)} ms (fetch, decode, validate, render)`);
      log(`ui: session scroll                  frame time p95 ${seqP95.toFixed(1)} ms, median ${median(seq.work).toFixed(1)} ms; frame interval p95 ${p95(seq.intervals).toFixed(1)} ms   target p95 < 16 ms`);
      verdicts.push({ target: 'ui session 10k scroll p95 frame < 16 ms', pass: seqP95 < 16, detail: `${seqP95.toFixed(1)} ms` });
      verdicts.push({ target: 'ui session 10k open (reported)', pass: undefined, detail: `${sessionOpen.toFixed(0)} ms` });
      log('');
    } finally {
      await browser.close();
      await ui.close();
      await backend.close();
    }
    return verdicts;
  },
};
