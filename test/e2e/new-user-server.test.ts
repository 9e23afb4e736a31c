/**
 * Issue 18 points 5 and 6, as the new user hit them, in Debian Chromium against
 * `npm run serve -- --demo`: the Server view's forms and Lab CA, the Devices view's handset form,
 * list order and sessions link, and the toasts. One test per bug; the tests run in order and the
 * last one (toasts) restarts the DM server.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eSkipReason, launchBrowser, serve, type Served } from './support/browser.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = path.join(ROOT, 'test-results', 'e2e');
const HANDSETS = existsSync(path.join(ROOT, 'main', 'client', 'index.ts')) ? [] : ['--handsets', 'test/e2e/support/test-handsets.ts'];
const skip = e2eSkipReason();
// The DOM as page.evaluate sees it (this file compiles without the DOM lib).
interface Box { left: number; right: number; top: number; bottom: number; width: number; height: number }
interface El { getBoundingClientRect(): Box; outerHTML: string; getAttribute(name: string): string | null }
interface Doc { querySelector(s: string): El | null; querySelectorAll(s: string): ArrayLike<El> & Iterable<El>; elementFromPoint(x: number, y: number): El | null }
type WithDocument = { document: Doc };
const openssl = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe.skipIf(skip !== undefined)('a new user on the Server and Devices views (issue 18 points 5, 6)', () => {
  let served: Served;
  let ctx: BrowserContext;
  let page: Page;
  const downloads = mkdtempSync(path.join(os.tmpdir(), 'dmw-e2e-dl-'));
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  const boundPort = async () => Number(/:(\d+)\/dm$/.exec((await page.locator('[data-testid=server-url]').textContent()) ?? '')?.[1]);
  const deviceRows = () => page.locator('[data-testid=device-table] tbody tr[data-device]').evaluateAll((els) => els.map((e) => e.getAttribute('data-device')));

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    served = await serve(['--demo', ...HANDSETS], ROOT);
    ctx = await launchBrowser();
    page = await ctx.newPage();
    page.on('pageerror', (e) => process.stdout.write(`page error: ${e.message}\n`));
    await page.goto(served.url);
    await page.click('[data-view=devices]');
    await page.waitForFunction(() => (globalThis as unknown as WithDocument).document.querySelectorAll('[data-device^="IMEI:"]').length === 3, undefined, { timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    await ctx?.close();
    await served?.stop();
  });

  it('Port shows the port the server runs on, not 0', async () => {
    await page.click('[data-view=server]');
    await expect.poll(() => page.locator('[data-testid=server-url]').textContent(), { timeout: 10_000 }).toMatch(/:\d+\/dm$/);
    const port = await boundPort();
    expect(port).toBeGreaterThan(0);
    expect(await page.locator('[data-testid=server-port]').inputValue()).toBe(String(port));
  });

  it('(2) the Lab CA panel says the CA exists once it was downloaded', async () => {
    const state = page.locator('[data-testid=lab-ca-state]');
    expect(await state.textContent()).toContain('No lab CA yet');
    const dl = page.waitForEvent('download');
    await page.locator('[data-testid=download-ca]').click();
    const ca = path.join(downloads, (await dl).suggestedFilename());
    await (await dl).saveAs(ca);
    openssl(['x509', '-noout', '-in', ca]);
    await expect.poll(() => state.textContent(), { timeout: 10_000 }).toContain('The lab CA is in the data folder');
  });

  it('(1) a device certificate: DevId checked inline, certificate and key as two files openssl reads', async () => {
    const devId = page.locator('[data-testid=cert-devid]');
    const issue = page.locator('[data-testid=issue-cert]');
    await devId.fill('hello');
    await expect.poll(() => page.locator('[data-testid=cert-devid-error]').textContent()).toContain('"hello" is not a DevId');
    expect(await issue.isDisabled()).toBe(true);
    await devId.fill('IMEI:356938035643808');
    await expect.poll(() => page.locator('[data-testid=cert-devid-error]').textContent()).toContain('last digit should be 9');
    await devId.fill('IMEI:356938035643809');
    await expect.poll(() => page.locator('[data-testid=cert-devid-error]').count()).toBe(0);
    await issue.click();
    await page.locator('[data-testid=issued-cert]').waitFor();
    const save = async (testId: string) => {
      const dl = page.waitForEvent('download');
      await page.locator(`[data-testid=${testId}]`).click();
      const file = path.join(downloads, (await dl).suggestedFilename());
      await (await dl).saveAs(file);
      return file;
    };
    const cert = await save('download-device-cert');
    const key = await save('download-device-key');
    expect(path.basename(cert)).toBe('IMEI_356938035643809.crt.pem');
    expect(path.basename(key)).toBe('IMEI_356938035643809.key.pem');
    expect(readFileSync(cert, 'utf8')).not.toContain('PRIVATE KEY');
    expect(openssl(['x509', '-noout', '-subject', '-in', cert])).toMatch(/CN\s*=\s*IMEI:356938035643809/);
    openssl(['pkey', '-noout', '-in', key]);
    expect(openssl(['pkey', '-pubout', '-in', key])).toBe(openssl(['x509', '-noout', '-pubkey', '-in', cert]));
    await shot('server-lab-ca');
  });

  it('(7) server form errors show as typed, before Save, and Save waits for them', async () => {
    const saveBtn = page.locator('[data-testid=server-save]');
    const hold = page.locator('[data-testid=server-step-hold]');
    const url = page.locator('[data-testid=server-public-url]');
    const holdBefore = await hold.inputValue();
    await hold.fill('-5');
    await expect.poll(() => page.locator('[data-testid=server-step-hold-error]').textContent()).toBe('-5 is out of range: 1 to 3600');
    expect(await saveBtn.isDisabled()).toBe(true);
    await url.fill('dm.lab.example');
    await expect.poll(() => page.locator('[data-testid=server-public-url-error]').textContent()).toContain('is not a URL');
    expect(await hold.getAttribute('aria-invalid')).toBe('true');
    await shot('server-form-errors');
    await url.fill('');
    await hold.fill(holdBefore);
    await expect.poll(() => page.locator('.server-view [role=alert]').count()).toBe(0);
    expect(await saveBtn.isDisabled()).toBe(false);
    expect(await page.locator('[data-notice]').count()).toBe(0);
  });

  it('"Save and restart" keeps the port the handsets use', async () => {
    const before = await boundPort();
    const timeout = page.locator('[data-testid=server-session-timeout]');
    await timeout.fill('301');
    await page.locator('[data-testid=server-save]').click();
    await expect.poll(() => page.locator('[data-notice=info]').textContent(), { timeout: 20_000 }).toContain('Settings saved');
    await expect.poll(() => page.locator('[data-testid=server-url]').textContent(), { timeout: 10_000 }).toMatch(/:\d+\/dm$/);
    expect(await boundPort()).toBe(before);
    expect(await page.locator('[data-testid=server-port]').inputValue()).toBe(String(before));
  });

  it('(6) "Add 2.5 handsets", 0 or nothing is explained next to the field, not added', async () => {
    await page.click('[data-view=devices]');
    const count = page.locator('[data-testid=handset-count]');
    const add = page.locator('[data-testid=add-handsets]');
    const error = page.locator('[data-testid=handset-count-error]');
    await count.fill('2.5');
    await expect.poll(() => error.textContent()).toBe('"2.5" is not a whole number (1 to 100)');
    expect(await add.isDisabled()).toBe(true);
    await count.fill('0');
    await expect.poll(() => error.textContent()).toBe('0 is out of range: 1 to 100');
    expect(await add.isDisabled()).toBe(true);
    await count.fill('');
    await expect.poll(() => error.textContent()).toBe('required: a whole number from 1 to 100');
    expect(await add.isDisabled()).toBe(true);
    await shot('devices-handset-count');
    await count.fill('1');
    await expect.poll(() => error.count()).toBe(0);
    expect(await add.textContent()).toBe('Add 1');
    expect(await page.locator('[data-notice=error]').count()).toBe(0);
  });

  it('the device list keeps its order while sessions run, and its headers sort', async () => {
    const first = await deviceRows();
    expect(first.length).toBeGreaterThanOrEqual(3);
    // The demo has a session every 2.5 s: watch the order for a while.
    for (let i = 0; i < 16; i++) {
      await page.waitForTimeout(500);
      expect(await deviceRows()).toEqual(first);
    }
    expect([...first].sort()).toEqual(first);
    const head = page.locator('[data-testid=device-table] th[data-column=devId]');
    expect(await head.getAttribute('aria-sort')).toBe('ascending');
    await head.locator('button').click();
    expect(await head.getAttribute('aria-sort')).toBe('descending');
    expect(await deviceRows()).toEqual([...first].reverse());
    const last = page.locator('[data-testid=device-table] th[data-column=lastSession]');
    await last.locator('button').click();
    expect(await last.getAttribute('aria-sort')).toBe('ascending');
    await head.locator('button').click();
    expect(await deviceRows()).toEqual(first);
  });

  it('(8) the "sessions" link of a device shows that device\'s session, not the one open before', async () => {
    const [a, b] = (await deviceRows()) as [string, string];
    await page.click('[data-view=sessions]');
    await page.getByLabel('Search sessions').fill(a);
    const rowA = page.locator('[data-session]', { hasText: a }).first();
    await expect.poll(() => rowA.count(), { timeout: 20_000 }).toBe(1);
    await rowA.click();
    const debuggerPane = page.locator('[data-testid=session-debugger]');
    await expect.poll(() => debuggerPane.textContent(), { timeout: 10_000 }).toContain(a);
    await page.getByLabel('Search sessions').fill('');
    await page.click('[data-view=devices]');
    await page.locator(`tr[data-device="${b}"] button`, { hasText: 'sessions' }).click();
    await expect.poll(() => debuggerPane.textContent(), { timeout: 10_000 }).toContain(b);
    expect(await debuggerPane.textContent()).not.toContain(a);
    await shot('sessions-of-device');
  });

  it('(10) an error toast can be closed, does not stack, and covers no part of the form', async () => {
    await page.click('[data-view=server]');
    const port = page.locator('[data-testid=server-port]');
    const save = page.locator('[data-testid=server-save]');
    // A port another program holds (the UI's own): the restart fails, which is worth a toast.
    const uiPort = new URL(served.url).port;
    await port.fill(uiPort);
    await save.click();
    const errors = page.locator('[data-notice=error]');
    await expect.poll(() => errors.count(), { timeout: 20_000 }).toBe(1);
    await expect.poll(() => page.locator('[data-testid=server-port-error]').textContent(), { timeout: 10_000 }).toContain('in use');
    await save.click();
    await expect.poll(() => page.locator('[data-testid=notice-count]').textContent(), { timeout: 20_000 }).toBe(' ×2');
    expect(await errors.count()).toBe(1);
    // Nothing of the form is under the toasts.
    const covered = await page.evaluate(() => {
      const document = (globalThis as unknown as WithDocument).document;
      const strip = document.querySelector('[data-testid=notices]')!.getBoundingClientRect();
      const hit: string[] = [];
      for (const el of document.querySelectorAll('.server-view input, .server-view button, .server-view select')) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        if (r.left < strip.right && r.right > strip.left && r.top < strip.bottom && r.bottom > strip.top) hit.push(el.outerHTML.slice(0, 80));
      }
      return hit;
    });
    expect(covered).toEqual([]);
    await save.scrollIntoViewIfNeeded();
    const box = (await save.boundingBox())!;
    expect(await page.evaluate(([x, y]) => (globalThis as unknown as WithDocument).document.elementFromPoint(x!, y!)?.getAttribute('data-testid') ?? null, [box.x + box.width / 2, box.y + box.height / 2])).toBe('server-save');
    await shot('server-error-toast');
    await errors.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => errors.count()).toBe(0);
    // Back to any free port: the server runs again, and the success toast goes by itself.
    await port.fill('0');
    await save.click();
    await expect.poll(() => page.locator('[data-notice=info]').count(), { timeout: 20_000 }).toBe(1);
    await expect.poll(() => page.locator('[data-notice=info]').count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => page.locator('[data-testid=server-url]').textContent(), { timeout: 10_000 }).toMatch(/:\d+\/dm$/);
  });
});
