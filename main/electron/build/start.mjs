#!/usr/bin/env node
/**
 * `npm start`: build what is stale (renderer, Electron bundles), make sure the backend's native
 * addon is built for Electron's ABI, then launch Electron on this checkout.
 *
 * The tests run the same native addon under plain Node, so the Electron build of better-sqlite3 goes
 * to main/electron/dist/node_modules (found first by the backend bundle next to it) and node_modules
 * keeps the Node build. Packaged apps do not use this: electron-builder rebuilds for Electron itself.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildElectron, buildRenderer } from './build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const dist = path.join(root, 'main', 'electron', 'dist');
const require = createRequire(import.meta.url);

function newest(dir, skip = () => false) {
  let t = 0;
  if (!existsSync(dir)) return 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (skip(p)) continue;
    t = Math.max(t, e.isDirectory() ? newest(p, skip) : statSync(p).mtimeMs);
  }
  return t;
}

function mtime(p) {
  return existsSync(p) ? statSync(p).mtimeMs : 0;
}

async function ensureNative(electronVersion) {
  const mod = 'better-sqlite3';
  const stamp = path.join(dist, 'node_modules', `.${mod}-electron-${electronVersion}`);
  if (existsSync(stamp)) return;
  process.stdout.write(`building ${mod} for Electron ${electronVersion} (once) ...\n`);
  const src = path.dirname(require.resolve(`${mod}/package.json`));
  const dst = path.join(dist, 'node_modules', mod);
  rmSync(dst, { recursive: true, force: true });
  mkdirSync(path.dirname(dst), { recursive: true });
  cpSync(src, dst, { recursive: true, filter: (p) => !p.includes(`${path.sep}build${path.sep}`) && !p.endsWith(`${path.sep}build`) });
  const version = JSON.parse(readFileSync(path.join(src, 'package.json'), 'utf8')).version;
  writeFileSync(path.join(dist, 'package.json'), `${JSON.stringify({ name: 'dmw-electron-native', private: true, dependencies: { [mod]: version } }, null, 2)}\n`);
  const { rebuild } = await import('@electron/rebuild');
  await rebuild({ buildPath: dist, electronVersion, onlyModules: [mod], force: true });
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

const electronVersion = JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')).version;
let electronBinary;
try {
  electronBinary = require('electron');
} catch (e) {
  process.stderr.write(`npm start: the Electron binary is not installed (${e.message}).\nRun \`npm install\` with network access (not ELECTRON_SKIP_BINARY_DOWNLOAD), or use \`npm run serve\` for the same UI in a browser.\n`);
  process.exit(1);
}

const rendererSources = Math.max(newest(path.join(root, 'renderer'), (p) => p.startsWith(path.join(root, 'renderer', 'dist'))), mtime(path.join(root, 'main', 'api', 'contract.ts')));
if (rendererSources > mtime(path.join(root, 'renderer', 'dist', 'index.html'))) await buildRenderer();
const mainSources = Math.max(newest(path.join(root, 'main'), (p) => p.startsWith(dist) || p.includes('node_modules')), newest(path.join(root, 'preload')));
if (mainSources > Math.min(mtime(path.join(dist, 'main.cjs')), mtime(path.join(dist, 'backend.cjs')), mtime(path.join(dist, 'preload.cjs')))) await buildElectron();
await ensureNative(electronVersion);

const child = spawn(electronBinary, [root, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => child.kill(s));
