/**
 * The app end to end: `npm run serve -- --demo` with three virtual handsets having real DM sessions,
 * driven in Debian Chromium. Screenshots go to test-results/e2e/ (CI artifacts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eSkipReason, launchBrowser, serve, type Served } from './support/browser.js';
import { RULE_BY_ID } from '../../main/judge/catalogue.js';
import { exampleInput } from '../../main/judge/example-kit.js';
import { checkLoggedSession } from '../../main/judge/index.js';
import { ServerStore } from '../../main/store/server-store.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = path.join(ROOT, 'test-results', 'e2e');
// The product's virtual handsets (main/client) when present; otherwise the test-only fleet, which
// speaks real DM too (see support/test-handsets.ts).
const HANDSETS = existsSync(path.join(ROOT, 'main', 'client', 'index.ts')) ? [] : ['--handsets', 'test/e2e/support/test-handsets.ts'];
const skip = e2eSkipReason();

describe.skipIf(skip !== undefined)('DM Workbench in a browser (npm run serve -- --demo)', () => {
  let served: Served;
  let ctx: BrowserContext;
  let page: Page;
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    served = await serve(['--demo', ...HANDSETS], ROOT);
    ctx = await launchBrowser();
    page = await ctx.newPage();
    page.on('pageerror', (e) => process.stdout.write(`page error: ${e.message}\n`));
    await page.goto(served.url);
  }, 120_000);

  afterAll(async () => {
    await ctx?.close();
    await served?.stop();
  });

  it('serves the production build of the UI even when started from vitest (NODE_ENV=test)', async () => {
    // React's development bundle (jsxDEV) is slower to render and scroll; vite builds it when it
    // inherits NODE_ENV=test, and every later `npm run serve` reused that build (main/api/ui-build.ts).
    const scripts = await page.evaluate(() => [...(globalThis as unknown as { document: { scripts: { src: string }[] } }).document.scripts].map((s) => s.src).filter(Boolean));
    expect(scripts.length).toBeGreaterThan(0);
    for (const src of scripts) {
      const text = await page.evaluate(async (u) => (await fetch(u)).text(), src);
      expect(text, src).not.toContain('jsxDEV');
    }
  });

  it('keeps the token out of the address bar and refuses a socket without it', async () => {
    expect(page.url()).not.toContain('token=');
    const refused = await page.evaluate(async () => new Promise<boolean>((resolve) => {
      const host = (globalThis as unknown as { location: { host: string } }).location.host;
      const ws = new WebSocket(`ws://${host}/api?token=wrong`);
      ws.onopen = () => resolve(false);
      ws.onerror = () => resolve(true);
    }));
    expect(refused).toBe(true);
  });

  it('shows the virtual handsets as devices', async () => {
    await page.click('[data-view=devices]');
    const rows = page.locator('[data-device^="IMEI:"]');
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(3);
    const ids = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-device')));
    for (const id of ids) expect(id).toMatch(/^IMEI:\d{15}$/);
    await shot('devices');
  });

  it('opens a live session and reads its decoded messages', async () => {
    await page.click('[data-view=sessions]');
    await expect.poll(() => page.locator('[data-session]').count(), { timeout: 20_000 }).toBeGreaterThan(2);
    // A session with management commands: the demo's first job per handset is a tree discovery.
    await page.locator('[data-session]').last().click();
    await page.locator('[data-testid=session-debugger]').waitFor();
    await expect.poll(() => page.locator('[data-message]').count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    await page.locator('[data-message][data-direction=out]').first().click();
    const table = page.locator('[data-testid=command-table]');
    await expect.poll(() => table.textContent(), { timeout: 10_000 }).toContain('Status');
    await page.getByRole('tab', { name: 'XML', exact: true }).click();
    await expect.poll(() => page.locator('[data-testid=xml-view]').textContent()).toContain('<SyncML');
    await page.getByRole('tab', { name: 'Hex' }).click();
    await expect.poll(() => page.locator('[data-testid=hex-view]').textContent()).toMatch(/^000000 {2}/);
    await page.getByRole('tab', { name: 'Commands' }).click();
    await shot('session-debugger');
  });

  it('shows the WBXML token view for a WBXML session', async () => {
    const wbxml = page.locator('[data-session]', { hasText: 'wbxml' }).first();
    await wbxml.click();
    await page.locator('[data-message]').first().click();
    const tab = page.getByRole('tab', { name: 'WBXML tokens' });
    await expect.poll(() => tab.isEnabled(), { timeout: 10_000 }).toBe(true);
    await tab.click();
    await expect.poll(() => page.locator('[data-testid=token-view]').textContent()).toContain('TAG');
  });

  it('browses the tree the server discovered', async () => {
    await page.click('[data-view=tree]');
    await page.getByRole('button', { name: 'Expand all' }).click();
    const devId = page.locator('[data-uri="./DevInfo/DevId"]');
    await expect.poll(() => devId.count(), { timeout: 20_000 }).toBe(1);
    await devId.click();
    await expect.poll(() => page.locator('[data-testid=node-value]').textContent()).toMatch(/IMEI:\d{15}/);
    await shot('tree');
  });

  it('queues a Replace and sees it complete', async () => {
    const name = page.locator('[data-uri="./DMAcc/dmw/Name"]');
    await expect.poll(() => name.count(), { timeout: 20_000 }).toBe(1);
    await name.click();
    await page.locator('#replace-value').fill('Lab server (e2e)');
    await page.locator('[data-testid=job-replace]').click();
    const badge = page.locator('[data-testid=requests] tr').first().locator('[data-badge]');
    await expect.poll(() => badge.getAttribute('data-badge'), { timeout: 30_000 }).toBe('done');
    await shot('replace-done');
  });

  it('opens the ACL matrix', async () => {
    await page.getByRole('button', { name: 'ACL matrix' }).click();
    const matrix = page.locator('[data-testid=acl-matrix]');
    await matrix.waitFor();
    await expect.poll(() => matrix.textContent(), { timeout: 10_000 }).toContain('dmw');
    // ./DMAcc/dmw carries Replace=dmw: once its ACL is read, Replace shows allowed for dmw.
    await page.locator('[data-testid=read-acls]').click();
    await expect.poll(async () => {
      await page.getByRole('button', { name: 'Show' }).click();
      return page.locator('[data-cell="dmw:Replace"]').textContent();
    }, { timeout: 30_000, interval: 1000 }).toContain('allowed');
    await shot('acl');
  });

  it('previews a bootstrap profile as XML without any reader, and says what PC/SC has', async () => {
    await page.click('[data-view=bootstrap]');
    await expect.poll(() => page.locator('[data-testid=bootstrap-xml]').textContent(), { timeout: 10_000 }).toContain('<SyncML');
    // Readers: a table when pcscd lists some, else an explicit "none" or "not available" (never made up).
    const readers = page.locator('[data-testid=reader-table], [data-testid=no-readers], [data-testid=pcsc-unavailable]');
    await expect.poll(() => readers.count(), { timeout: 10_000 }).toBe(1);
    // A bad field is named next to its input.
    const port = page.locator('[data-field=port] input');
    await port.fill('0');
    await expect.poll(() => page.locator('[data-testid=error-port]').textContent(), { timeout: 10_000 }).toContain('port');
    await port.fill('8443');
    await expect.poll(() => page.locator('[data-testid=bootstrap-xml]').count(), { timeout: 10_000 }).toBe(1);
    await shot('bootstrap');
  });

  it('lists serial ports or says none were found', async () => {
    await page.click('[data-view=serial]');
    const ports = page.locator('[data-testid=port-table], [data-testid=no-ports]');
    await expect.poll(() => ports.count(), { timeout: 10_000 }).toBe(1);
    await page.locator('[data-testid=push-to]').fill('+491701234567');
    await page.locator('[data-testid=push-preview]').click();
    await expect.poll(() => page.locator('[data-testid=push-pdus]').textContent(), { timeout: 10_000 }).toContain('0106');
    // OTA bootstrap: the Bootstrap view's profile, USERNETWPIN with a typed IMSI and a PIN.
    await page.locator('[data-testid=bootstrap-push-to]').fill('+491701234567');
    await page.locator('[data-testid=bootstrap-push-sec]').selectOption('USERNETWPIN');
    await page.locator('[data-testid=bootstrap-push-imsi]').fill('001010123456789');
    await page.locator('[data-testid=bootstrap-push-pin]').fill('1234');
    await page.locator('[data-testid=bootstrap-push-preview]').click();
    await expect.poll(() => page.locator('[data-testid=bootstrap-push-ct]').textContent(), { timeout: 10_000 }).toMatch(/^application\/vnd\.syncml\.dm\+wbxml; SEC=USERNETWPIN; MAC=[0-9A-F]{40}$/);
    expect(await page.locator('[data-testid=bootstrap-push-key]').textContent()).toContain('imsi+pin');
    expect(await page.locator('[data-testid=bootstrap-push-pdus] tbody tr').count()).toBeGreaterThan(1);
    // A bad IMSI is refused, naming the field.
    await page.locator('[data-testid=bootstrap-push-imsi]').fill('12ab');
    await page.locator('[data-testid=bootstrap-push-preview]').click();
    await expect.poll(() => page.locator('body').textContent(), { timeout: 10_000 }).toContain('imsi:');
    await shot('serial');
  });

  it('shows an expert finding beside its message, counted in the session list, and explains its rule', async () => {
    // A logged session that breaks status.missing (the catalogue's bad example), written into the
    // served data folder as another process (dmw capture import, say) would.
    const dataDir = /data folder: (.+)/.exec(served.output())![1]!.trim();
    const device = 'IMEI:000000000004242';
    const store = ServerStore.open(dataDir);
    let sessionId: number;
    let messageId: number;
    try {
      sessionId = store.createSession({ device, dmSessionId: '42', encoding: 'xml', state: 'done', reason: 'e2e findings' }, Date.now());
      exampleInput(RULE_BY_ID.get('status.missing')!.bad).forEach((m, i) => store.addMessage({ sessionId, direction: m.direction, at: Date.now() + i, bytes: m.bytes!, contentType: 'application/vnd.syncml.dm+xml' }));
      const records = store.messages(sessionId);
      const finding = checkLoggedSession(records).find((f) => f.rule === 'status.missing')!;
      messageId = records.find((r) => r.seq === finding.msg)!.id;
    } finally {
      store.close();
    }
    await page.reload();
    await page.click('[data-view=sessions]');
    await page.getByLabel('Search sessions').fill(device);
    const row = page.locator(`[data-session="${sessionId}"]`);
    await expect.poll(() => row.count(), { timeout: 20_000 }).toBe(1);
    await expect.poll(() => row.locator('[data-findings=counts]').getAttribute('aria-label'), { timeout: 20_000 }).toMatch(/^findings: \d+ errors?/);
    await row.click();
    await page.locator('[data-testid=session-debugger]').waitFor();
    const message = page.locator(`[data-message="${messageId}"]`);
    await expect.poll(() => message.locator('[data-finding-mark]').getAttribute('data-finding-mark'), { timeout: 20_000 }).toBe('error');
    await message.click();
    const finding = page.locator('[data-testid=message-findings] [data-rule="status.missing"]');
    await expect.poll(() => finding.textContent(), { timeout: 10_000 }).toContain(RULE_BY_ID.get('status.missing')!.clause);
    await shot('findings-message');
    await finding.locator('[data-explain="status.missing"]').click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.locator('[data-testid=rule-text]').textContent(), { timeout: 10_000 }).toBe(RULE_BY_ID.get('status.missing')!.text);
    expect(await dialog.locator('[data-testid=rule-bad]').textContent()).toContain('<SyncML');
    await shot('findings');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.getByLabel('Search sessions').fill('');
  });

  it('shows the server settings', async () => {
    await page.click('[data-view=server]');
    await expect.poll(() => page.locator('[data-testid=server-url]').textContent()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dm$/);
    await shot('server');
  });
});
