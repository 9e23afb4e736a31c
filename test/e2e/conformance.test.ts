/**
 * The Conformance view end to end: `npm run serve -- --demo` (virtual handsets having real DM
 * sessions), in Debian Chromium: pick a handset and three cases of dm12-client, run them through the
 * app's DM server, see the verdicts, open a case's evidence (checks, sequence diagram), and export
 * the HTML report, which then opens on its own (file://) with its diagram. Screenshots go to
 * test-results/e2e/.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eSkipReason, launchBrowser, serve, type Served } from './support/browser.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = path.join(ROOT, 'test-results', 'e2e');
const HANDSETS = existsSync(path.join(ROOT, 'main', 'client', 'index.ts')) ? [] : ['--handsets', 'test/e2e/support/test-handsets.ts'];
const CASES = ['dm12.get.leaf', 'dm12.get.interior', 'dm12.get.missing'];
const skip = e2eSkipReason();

describe.skipIf(skip !== undefined)('Conformance view in a browser (npm run serve -- --demo)', () => {
  let served: Served;
  let ctx: BrowserContext;
  let page: Page;
  const shot = (p: Page, name: string) => p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

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

  it('runs three cases against a virtual handset and shows their verdicts and evidence', async () => {
    await page.click('[data-view=conformance]');
    await page.locator('[data-testid=conformance-view]').waitFor();
    const device = page.getByLabel('Device', { exact: true });
    await expect.poll(() => device.locator('option[value^="IMEI:"]').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    const devId = (await device.locator('option[value^="IMEI:"]').first().getAttribute('value'))!;
    await device.selectOption(devId);
    await expect.poll(() => page.getByLabel('Plan').locator('option').first().textContent(), { timeout: 20_000 }).toMatch(/^dm12-client \(\d+ cases\)$/);

    await page.getByTestId('choose-cases').check();
    await page.getByLabel('Filter cases').fill('dm12.get.');
    for (const id of CASES) await page.locator(`[data-case-choice="${id}"]`).check();
    await expect.poll(() => page.getByTestId('case-picker').textContent()).toContain('3 of');
    await page.getByTestId('conformance-run').click();

    const rows = page.locator('[data-testid=conformance-results] tr[data-case]');
    await expect.poll(() => page.getByTestId('export-html').isEnabled(), { timeout: 90_000 }).toBe(true);
    expect(await rows.evaluateAll((els) => els.map((e) => [e.getAttribute('data-case'), e.getAttribute('data-verdict')]))).toEqual(CASES.map((id) => [id, 'pass']));
    expect(await page.getByTestId('conformance-summary').textContent()).toContain(devId);
    // Verdicts coloured: a pass badge is green (the "ok" tone).
    const colour = await rows.first().locator('[data-verdict-badge]').evaluate((e) => (globalThis as unknown as { getComputedStyle(el: unknown): { color: string } }).getComputedStyle(e).color);
    expect(colour).toBe('rgb(28, 124, 60)');

    // Open a case: its checks and its session as a sequence diagram, one arrow per message.
    await rows.first().click();
    const detail = page.getByTestId('case-detail');
    await detail.waitFor();
    expect(await detail.getByTestId('case-checks').locator('tbody tr[data-ok=true]').count()).toBeGreaterThan(0);
    const arrows = detail.locator('svg g[data-arrow]');
    await expect.poll(() => arrows.count()).toBeGreaterThanOrEqual(2);
    expect(await arrows.first().getAttribute('data-direction')).toBe('in');
    expect(await arrows.first().locator('text').last().textContent()).toMatch(/^#1 · MsgID 1 · Alert 120[01]/);
    await arrows.nth(1).click();
    await expect.poll(() => detail.locator('details[data-evidence-message="2"] pre').textContent()).toContain('<SyncML');
    await shot(page, 'conformance-view');
  }, 120_000);

  it('exports the HTML report, which stands on its own', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-html').click()]);
    expect(download.suggestedFilename()).toMatch(/^dmw-conformance-dm12-client-IMEI_\d{15}\.html$/);
    const file = path.join(SHOTS, download.suggestedFilename());
    await download.saveAs(file);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/);
    for (const id of CASES) expect(html).toContain(`data-case="${id}"`);
    expect(html).not.toMatch(/<script/i);

    // Opened from disk: no request leaves the page, the cases table and a diagram per session are there.
    const report = await ctx.newPage();
    const requests: string[] = [];
    report.on('request', (r) => requests.push(r.url()));
    await report.goto(pathToFileURL(file).href);
    expect(await report.locator('table.cases tbody tr[data-verdict=pass]').count()).toBe(3);
    expect(await report.locator('details.case svg.seq g.msg').count()).toBeGreaterThanOrEqual(6);
    expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
    await report.evaluate(() => {
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ open: boolean }> } }).document;
      for (const d of doc.querySelectorAll('details.case')) d.open = true;
    });
    await shot(report, 'conformance-report');
    await report.close();

    // JUnit too.
    const [junit] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-junit').click()]);
    const xmlFile = path.join(SHOTS, junit.suggestedFilename());
    await junit.saveAs(xmlFile);
    expect(readFileSync(xmlFile, 'utf8')).toMatch(/<testsuites name="dm12-client on IMEI:\d{15}" tests="3" failures="0" errors="0" skipped="0"/);
  }, 60_000);
});
