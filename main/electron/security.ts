/**
 * Everything that keeps the window a window onto our UI and nothing else (with the web preferences
 * spelled out in shell.ts): the CSP, navigation / new-window / webview guards, permissions, and who
 * may talk to the backend over IPC. Pure functions over Electron objects (types only), so tests pass fakes.
 */
import type { Session, WebContents, WebFrameMain } from 'electron';
import { APP_CSP } from '../api/csp.js';

export { APP_CSP };

/** Only the app's own page: the exact file URL of renderer/dist/index.html (query and hash ignored). */
export function isAppUrl(url: string, appUrl: string): boolean {
  try {
    const u = new URL(url);
    const a = new URL(appUrl);
    return u.protocol === a.protocol && u.host === a.host && u.pathname === a.pathname;
  } catch {
    return false;
  }
}

/** IPC is accepted from the app's top frame only (no subframe, no other page ever loaded). */
export function isTrustedSender(frame: Pick<WebFrameMain, 'url' | 'parent'> | null | undefined, appUrl: string): boolean {
  return !!frame && frame.parent === null && isAppUrl(frame.url, appUrl);
}

export function hardenSession(ses: Session): void {
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler?.(() => false);
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [APP_CSP], 'X-Content-Type-Options': ['nosniff'] } });
  });
}

/** No navigation away from the app, no new windows, no webviews, no redirects. */
export function hardenContents(contents: WebContents, appUrl: string): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url, appUrl)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url, appUrl)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}
