/**
 * Electron main entry (bundled to main/electron/dist/main.cjs by `npm run build`): the real Electron
 * module into the shell. Paths are relative to the bundle.
 */
import path from 'node:path';
import * as electron from 'electron';
import { startShell } from './shell.js';

const dist = __dirname;
const root = path.resolve(dist, '..', '..', '..');

void startShell(electron, {
  indexHtml: path.join(root, 'renderer', 'dist', 'index.html'),
  preload: path.join(dist, 'preload.cjs'),
  backend: path.join(dist, 'backend.cjs'),
  dataDir: process.env.DMW_DATA ?? path.join(electron.app.getPath('userData'), 'data'),
}).catch((e: unknown) => {
  electron.dialog.showErrorBox('DM Workbench could not start', e instanceof Error ? e.message : String(e));
  electron.app.exit(1);
});
