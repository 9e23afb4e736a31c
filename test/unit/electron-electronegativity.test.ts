/**
 * @doyensec/electronegativity over the Electron shell, the preload and the renderer, scanned together
 * (its global checks — navigation limits, permission handler, CSP — look across all of them): no
 * HIGH or MEDIUM finding.
 *
 * One check is left out: PRELOAD_JS_CHECK flags every use of a preload for manual review, whatever it
 * does. Ours was reviewed and is pinned by test/unit/electron-preload.test.ts: it exposes one function
 * per contract channel and the event subscription, nothing else.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const CLI = path.join(ROOT, 'node_modules', '@doyensec', 'electronegativity', 'dist', 'index.js');
// Checks are excluded by their class name (PreloadJSCheck reports as PRELOAD_JS_CHECK).
const REVIEWED = ['PreloadJSCheck'];

describe('electronegativity', () => {
  it('finds nothing of high or medium severity in main/electron, preload and renderer', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-eneg-'));
    const skip = (p: string) => !/[\\/](dist|build|node_modules)([\\/]|$)/.test(p.slice(ROOT.length));
    cpSync(path.join(ROOT, 'main', 'electron'), path.join(dir, 'electron'), { recursive: true, filter: skip });
    cpSync(path.join(ROOT, 'preload'), path.join(dir, 'preload'), { recursive: true, filter: skip });
    cpSync(path.join(ROOT, 'renderer'), path.join(dir, 'renderer'), { recursive: true, filter: skip });
    const electron = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'electron', 'package.json'), 'utf8')) as { version: string };
    const out = path.join(dir, 'findings.csv');
    execFileSync(process.execPath, [CLI, '-i', dir, '-e', electron.version, '-r', '-v', 'false', '-x', REVIEWED.join(','), '-o', out], { stdio: 'pipe', timeout: 120_000 });
    const rows = readFileSync(out, 'utf8').trim().split('\n').slice(1).filter(Boolean);
    const findings = rows.map((r) => {
      const [issue, severity, confidence, file, location] = r.split(',').map((x) => x.replace(/^"|"$/g, ''));
      return { issue, severity, confidence, file, location };
    });
    const serious = findings.filter((f) => f.severity === 'HIGH' || f.severity === 'MEDIUM');
    expect(serious, JSON.stringify(serious, null, 2)).toEqual([]);
    // It did scan: the shell's CSP is among what it looked at.
    expect(findings.some((f) => f.issue === 'CSP_GLOBAL_CHECK')).toBe(true);
  }, 120_000);
});
