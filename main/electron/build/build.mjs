#!/usr/bin/env node
/**
 * `npm run build`: the renderer (vite) and the Electron bundles (esbuild) into main/electron/dist:
 *   main.cjs     Electron main (the shell)
 *   preload.cjs  the sandboxed preload (CommonJS: sandboxed preloads cannot be ES modules)
 *   backend.cjs  the utility-process backend; native addons stay external (rebuilt for Electron)
 * The virtual handset module (main/client) is bundled in when it exists; without it the Devices view
 * shows the handset controls disabled with the reason.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const dist = path.join(root, 'main', 'electron', 'dist');
export const NATIVE = ['better-sqlite3', 'pcsclite', 'serialport', '@serialport/bindings-cpp'];

export async function buildRenderer() {
  const vite = await import('vite');
  await vite.build({ configFile: path.join(root, 'vite.config.ts'), logLevel: 'warn' });
}

export async function buildElectron() {
  const esbuild = await import('esbuild');
  const common = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: false,
    logLevel: 'warning',
    absWorkingDir: root,
    // ESM sources use import.meta.url; in a CommonJS bundle it is the bundle's own file URL.
    define: { 'import.meta.url': '__dmwImportMetaUrl' },
    banner: { js: 'const __dmwImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  };
  await esbuild.build({ ...common, entryPoints: [path.join(root, 'main', 'electron', 'main.ts')], outfile: path.join(dist, 'main.cjs'), external: ['electron'] });
  await esbuild.build({ ...common, entryPoints: [path.join(root, 'preload', 'preload.ts')], outfile: path.join(dist, 'preload.cjs'), external: ['electron'], define: {}, banner: {} });
  const client = path.join(root, 'main', 'client', 'index.ts');
  const contents = existsSync(client)
    ? `import * as handsets from '../client/index.ts';\nimport { runHost } from './backend-host.ts';\nvoid runHost(handsets);\n`
    : `import { runHost } from './backend-host.ts';\nvoid runHost(undefined);\n`;
  await esbuild.build({
    ...common,
    stdin: { contents, resolveDir: path.join(root, 'main', 'electron'), sourcefile: 'backend-entry.ts', loader: 'ts' },
    outfile: path.join(dist, 'backend.cjs'),
    external: ['electron', 'vite', ...NATIVE],
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await buildRenderer();
  await buildElectron();
  process.stdout.write(`built renderer/dist and ${path.relative(root, dist)}/{main,preload,backend}.cjs\n`);
}
