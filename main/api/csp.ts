/**
 * The one Content-Security-Policy of the UI, whether Electron serves it or `npm run serve` does:
 * only the app's own scripts, styles and connections; no inline code, no plugins, no framing.
 */
export const APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');
