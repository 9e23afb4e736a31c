/**
 * Portable traces in the UI (issue 18 points 3-4) end to end: `npm run serve -- --demo` with the
 * virtual handsets having real DM sessions, driven in Debian Chromium.
 *  (a) a finished demo session exported as pcapng from the Sessions view: tshark and capinfos read
 *      the download (every DM message one HTTP message, dissected, none malformed); imported again
 *      through the UI it is an `imported` session whose messages equal the original's byte for byte
 *      (compared through the backend's API), listed in the Sessions view and the Packets view;
 *  (b) the same with a bundle;
 *  (c) a broken capture shows the error with its file offset and adds no session;
 *  (d) a failed command's Status shows its code with its meaning ("404 Not found") in the Sessions
 *      view, and in the Packets view's status column or its tooltip.
 * Screenshots go to test-results/e2e/.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TRACE_UPLOAD_BYTES } from '../../main/api/contract-traces.js';
import { describeStatus } from '../../main/protocol/status-codes.js';
import { requireTools, run } from '../helpers/tools.js';
import { e2eSkipReason, launchBrowser, serve, type Served } from './support/browser.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = path.join(ROOT, 'test-results', 'e2e');
const HANDSETS = existsSync(path.join(ROOT, 'main', 'client', 'index.ts')) ? [] : ['--handsets', 'test/e2e/support/test-handsets.ts'];
const skip = e2eSkipReason();
// In CI tshark is installed and this throws rather than skip (requireTools).
const haveTshark = skip === undefined && requireTools('e2e traces (tshark, capinfos)', 'tshark', 'capinfos');
/** Wireshark 4.0 registers no dissector for the DM XML media types: Decode As XML, as a user would. */
const DECODE_AS_XML = ['application/vnd.syncml.dm+xml', 'application/vnd.syncml+xml'].flatMap((t) => ['-d', `media_type==${t},xml`]);

interface Summary { id: number; state: string; messageCount: number; device: string | null; reason: string | null }
interface Detail { session: Summary; messages: { id: number; direction: string }[] }

/** One call to the backend over a WebSocket of its own, opened from the page (same origin, the page's token). */
async function apiCall<T>(page: Page, channel: string, input: unknown): Promise<T> {
  const reply = await page.evaluate(async ({ channel, input }) => {
    const g = globalThis as unknown as { location: { host: string }; sessionStorage: { getItem(k: string): string | null }; WebSocket: new (url: string) => { onopen: () => void; onmessage: (e: { data: string }) => void; onerror: () => void; send(s: string): void; close(): void } };
    const token = g.sessionStorage.getItem('dmw-token') ?? '';
    return new Promise<unknown>((resolve, reject) => {
      const ws = new g.WebSocket(`ws://${g.location.host}/api?token=${encodeURIComponent(token)}`);
      ws.onopen = () => ws.send(JSON.stringify({ t: 'call', id: 1, channel, input }));
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data) as { t: string; id?: number; reply?: unknown };
        if (m.t === 'reply' && m.id === 1) {
          ws.close();
          resolve(m.reply);
        }
      };
      ws.onerror = () => reject(new Error('websocket error'));
    });
  }, { channel, input }) as { ok: boolean; value?: T; error?: { message: string } };
  if (!reply.ok) throw new Error(`${channel}: ${reply.error?.message}`);
  return reply.value as T;
}

/** A session's messages as [direction, base64 bytes], read through the API. */
async function messageBytes(page: Page, id: number): Promise<[string, string][]> {
  const d = await apiCall<Detail>(page, 'sessions.get', { id });
  const out: [string, string][] = [];
  for (const m of d.messages) {
    const full = await apiCall<{ direction: string; base64: string }>(page, 'sessions.message', { id: m.id });
    out.push([full.direction, full.base64]);
  }
  return out;
}

async function importedIds(page: Page): Promise<number[]> {
  return (await apiCall<Summary[]>(page, 'sessions.list', { limit: 2000 })).filter((s) => s.state === 'imported').map((s) => s.id);
}

/** "1,234 messages" → 1234 */
async function shownTotal(page: Page): Promise<number> {
  const text = (await page.locator('[data-testid=packet-count]').textContent()) ?? '';
  const m = /^([\d,]+) message/.exec(text.trim());
  return m ? Number(m[1]!.replace(/,/g, '')) : -1;
}

async function applyFilter(page: Page, filter: string): Promise<void> {
  await page.locator('[data-testid=packet-filter]').fill(filter);
  await page.locator('[data-testid=packet-filter]').press('Enter');
}

describe.skipIf(skip !== undefined)('portable traces in a browser (npm run serve -- --demo)', () => {
  let served: Served;
  let ctx: BrowserContext;
  let page: Page;
  const downloads = mkdtempSync(path.join(os.tmpdir(), 'dmw-e2e-traces-'));
  const errors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  /** The finished demo session the export tests use. */
  let original: Summary;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    served = await serve(['--demo', ...HANDSETS], ROOT);
    ctx = await launchBrowser();
    page = await ctx.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(served.url);
    await page.click('[data-view=sessions]');
    // A demo session that has ended (its messages will not change) with a few exchanges.
    await page.locator('[data-session][data-state=done]').first().waitFor({ timeout: 60_000 });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const done = (await apiCall<Summary[]>(page, 'sessions.list', { limit: 2000 })).find((s) => s.state === 'done' && s.messageCount >= 4);
      if (done) {
        original = done;
        break;
      }
      if (Date.now() > deadline) throw new Error('no finished demo session with 4 messages or more within 60 s');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }, 150_000);

  afterAll(async () => {
    await ctx?.close();
    await served?.stop();
  });

  /** Export the original session in `format` from the Sessions view; the downloaded file's path. */
  async function exportOpen(format: 'pcapng' | 'bundle'): Promise<string> {
    await page.click('[data-view=sessions]');
    // The list grows while the demo runs: the search box (id, device, ...) brings the row back.
    await page.locator('input[aria-label="Search sessions"]').fill(`${original.id} ${original.device}`);
    await page.locator(`[data-session="${original.id}"]`).click();
    await page.locator('input[aria-label="Search sessions"]').fill('');
    await expect.poll(() => page.locator('[data-testid=session-debugger] h2').textContent(), { timeout: 10_000 }).toContain(`Session #${original.id}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator(`[data-testid=export-${format}]`).click()]);
    const file = path.join(downloads, download.suggestedFilename());
    await download.saveAs(file);
    return file;
  }

  /** Import a file through the Sessions view's import panel; the imported session ids shown. */
  async function importFile(file: { name: string; mimeType: string; buffer: Buffer } | string): Promise<void> {
    await page.click('[data-view=sessions]');
    if ((await page.locator('[data-testid=import-trace]').count()) === 0) await page.locator('[data-testid=import-trace-open]').click();
    await page.locator('[data-testid=import-trace-file]').setInputFiles(file);
    await page.locator('[data-testid=import-trace-submit]').click();
    await page.locator('[data-testid=import-trace-result], [data-testid=import-trace-error]').first().waitFor({ timeout: 30_000 });
  }

  async function shownImports(): Promise<number[]> {
    return page.locator('[data-imported-session]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-imported-session'))));
  }

  /** The imported session is listed (state imported), opened in the debugger, and in the packet list. */
  async function seeImported(id: number, messages: number): Promise<void> {
    await expect.poll(() => page.locator('[data-testid=session-debugger] h2').textContent(), { timeout: 10_000 }).toContain(`Session #${id}`);
    expect(await page.locator('[data-testid=session-debugger] h2 [data-badge]').first().textContent()).toBe('imported');
    await page.locator('input[aria-label="Search sessions"]').fill(`${id} ${original.device}`);
    await page.locator(`[data-session="${id}"][data-state=imported]`).waitFor({ timeout: 10_000 });
    await page.locator('input[aria-label="Search sessions"]').fill('');
    await page.click('[data-view=packets]');
    await applyFilter(page, `session == ${id}`);
    await expect.poll(() => shownTotal(page), { timeout: 10_000 }).toBe(messages);
    await expect.poll(async () => [...new Set(await page.locator('[data-packet]').evaluateAll((els) => els.map((e) => e.getAttribute('data-session'))))], { timeout: 10_000 }).toEqual([String(id)]);
    await applyFilter(page, '');
    await page.click('[data-view=sessions]');
  }

  it.skipIf(!haveTshark)('(a) exports a session as pcapng that tshark dissects, and imports it back to the same messages byte for byte', async () => {
    const file = await exportOpen('pcapng');
    expect(path.basename(file)).toMatch(new RegExp(`^dmw-session-${original.id}-.+\\.pcapng$`));
    const info = run('capinfos', [file]).toString();
    expect(info).toMatch(/Capture application: DM Workbench \S+ \(dmw session export\)/);
    expect(info).toMatch(new RegExp(`Capture comment:\\s+DM Workbench \\S+: session ${original.id} \\(device ${original.device}`));
    // Each DM message is one HTTP message with its DM media type, dissected as SyncML (XML or WBXML tags), none malformed.
    const lines = run('tshark', ['-r', file, ...DECODE_AS_XML, '-Y', 'http.content_type', '-T', 'fields', '-E', 'separator=\t', '-e', 'http.content_type', '-e', 'xml.tag', '-e', 'wbxml.known_tag'])
      .toString().trim().split('\n').filter(Boolean);
    expect(lines).toHaveLength(original.messageCount);
    for (const l of lines) {
      const [ct, xml, wb] = l.split('\t');
      expect(ct).toMatch(/^application\/vnd\.syncml\.dm\+(xml|wbxml)$/);
      expect(`${xml ?? ''}${wb ?? ''}`).toMatch(/SyncML|SyncHdr/);
    }
    expect(run('tshark', ['-r', file, ...DECODE_AS_XML, '-Y', '_ws.malformed || _ws.expert.severity >= "Warning"']).toString().trim()).toBe('');

    const before = await importedIds(page);
    await importFile(file);
    expect(await page.locator('[data-testid=import-trace-summary]').textContent()).toBe(`Capture: 1 session(s), ${original.messageCount} message(s) imported.`);
    const [id] = await shownImports();
    expect(id).toBeGreaterThan(original.id);
    const byId = (a: number, b: number) => a - b;
    expect((await importedIds(page)).sort(byId)).toEqual([...before, id!].sort(byId));
    const imported = (await apiCall<Detail>(page, 'sessions.get', { id })).session;
    expect(imported).toMatchObject({ state: 'imported', device: original.device, reason: `imported from ${path.basename(file)}`, messageCount: original.messageCount });
    expect(await messageBytes(page, id!)).toEqual(await messageBytes(page, original.id));
    await shot('traces-imported-pcapng');
    await seeImported(id!, original.messageCount);
  }, 90_000);

  it('(b) exports the session as a bundle and imports it back to the same messages', async () => {
    const file = await exportOpen('bundle');
    expect(path.basename(file)).toMatch(new RegExp(`^dmw-session-${original.id}-.+\\.bundle\\.json$`));
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { format: string; appVersion: string; export: { session: { id: number }; messages: unknown[] } };
    expect(doc).toMatchObject({ format: 'dmw-session-bundle/1', export: { session: { id: original.id } } });
    expect(doc.export.messages).toHaveLength(original.messageCount);
    await importFile(file);
    expect(await page.locator('[data-testid=import-trace-summary]').textContent()).toBe(`Bundle: 1 session(s), ${original.messageCount} message(s) imported.`);
    const [id] = await shownImports();
    expect(await messageBytes(page, id!)).toEqual(await messageBytes(page, original.id));
    await seeImported(id!, original.messageCount);
  }, 90_000);

  it('(c) a broken capture shows the error with its file offset and adds no session', async () => {
    const before = await importedIds(page);
    // A pcap whose first record claims 100 bytes the file does not have (record header at offset 24).
    const pcap = Buffer.alloc(24 + 16 + 4);
    pcap.writeUInt32LE(0xa1b2c3d4, 0);
    pcap.writeUInt16LE(2, 4);
    pcap.writeUInt16LE(4, 6);
    pcap.writeUInt32LE(65535, 16);
    pcap.writeUInt32LE(1, 20);
    pcap.writeUInt32LE(100, 24 + 8);
    pcap.writeUInt32LE(100, 24 + 12);
    await importFile({ name: 'cut.pcap', mimeType: 'application/vnd.tcpdump.pcap', buffer: pcap });
    const err = page.locator('[data-testid=import-trace-error]');
    await err.waitFor({ timeout: 10_000 });
    expect(await err.textContent()).toMatch(/^cut\.pcap: broken capture at file offset 24: .+; nothing imported$/);
    expect(await err.getAttribute('data-offset')).toBe('24');
    expect(await page.locator('[data-testid=import-trace-result]').count()).toBe(0);
    expect(await importedIds(page)).toEqual(before);
    await shot('traces-broken');
    // A file over what the UI carries is refused before it is read, with the CLI command that takes it.
    await page.locator('[data-testid=import-trace-file]').setInputFiles({ name: 'huge.pcapng', mimeType: 'application/octet-stream', buffer: Buffer.alloc(MAX_TRACE_UPLOAD_BYTES + 1) });
    expect(await page.locator('[data-testid=import-trace-error]').textContent()).toMatch(new RegExp(`^huge\\.pcapng: ${(MAX_TRACE_UPLOAD_BYTES + 1).toLocaleString('en-US')} bytes, more than the ${MAX_TRACE_UPLOAD_BYTES.toLocaleString('en-US')} bytes the UI imports; import it with: dmw capture import huge\\.pcapng --data \\S+$`));
    expect(await page.locator('[data-testid=import-trace-submit]').isDisabled()).toBe(true);
    expect(await importedIds(page)).toEqual(before);
    await page.locator('[data-testid=import-trace-close]').click();
  }, 60_000);

  /** A logged message with a failed (non-auth) Status, found through the packet list's API. */
  async function failedRow(): Promise<{ id: number; sessionId: number; status: string; worst: number }> {
    let row: { id: number; sessionId: number; status: string; worst: number } | undefined;
    // The demo's handsets answer some commands with a failure; wait until one is logged.
    await expect.poll(async () => {
      const r = await apiCall<{ ok: boolean; rows: { id: number; sessionId: number; status: string; worst: number }[] }>(page, 'packets.query', { filter: 'worst >= 300 && worst < 500 && worst != 401', offset: 0, limit: 1 });
      row = r.ok ? r.rows[0] : undefined;
      return row !== undefined;
    }, { timeout: 90_000, interval: 2_000 }).toBe(true);
    expect(describeStatus(row!.worst)).not.toMatch(/undefined status code/);
    return row!;
  }

  it('(d) a failed command\'s Status shows its code with its meaning in the Sessions view', async () => {
    const row = await failedRow();
    const meaning = describeStatus(row.worst);
    await page.click('[data-view=packets]');
    await applyFilter(page, `session == ${row.sessionId}`);
    await page.locator(`[data-packet="${row.id}"]`).click();
    await page.locator('[data-testid=session-debugger]').waitFor({ timeout: 10_000 });
    // The message opened from the row: its Status row names the code and its meaning ("404 Not found").
    const status = page.locator(`[data-testid=command-table] [data-status-code="${row.worst}"]`).first();
    await status.waitFor({ timeout: 10_000 });
    expect(await status.textContent()).toBe(meaning);
    await shot('traces-status-sessions');
    expect(errors).toEqual([]);
  }, 120_000);

  it('(d) a failed command\'s Status shows its meaning in the Packets view\'s status column or its tooltip', async () => {
    const row = await failedRow();
    const meaning = describeStatus(row.worst);
    await page.click('[data-view=packets]');
    await applyFilter(page, `session == ${row.sessionId}`);
    const cells = page.locator(`[data-packet="${row.id}"] span`);
    await page.locator(`[data-packet="${row.id}"]`).waitFor({ timeout: 10_000 });
    const statusCell = cells.filter({ hasText: String(row.worst) }).last();
    const said = `${(await statusCell.textContent()) ?? ''}\n${(await statusCell.getAttribute('title')) ?? ''}`;
    await shot('traces-status-packets');
    expect(said).toContain(meaning);
    await applyFilter(page, '');
  }, 120_000);
});
