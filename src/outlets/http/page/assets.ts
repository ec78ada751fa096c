/**
 * The page's files as served: path → type, bytes and ETag, built once when the outlet loads.
 * Nothing is read from disk; the whole page (HTML, script, stylesheet, icon) stays under
 * 30 KB, which test/outlets/http/page.test.ts checks.
 */
import { createHash } from 'node:crypto';
import { FAVICON, HTML } from './html.js';
import { SCRIPT } from './script.js';
import { CSS } from './style.js';

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly etag: string;
}

function asset(type: string, text: string): Asset {
  const body = Buffer.from(text, 'utf8');
  return { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['/', asset('text/html; charset=utf-8', HTML)],
  ['/app.js', asset('text/javascript; charset=utf-8', SCRIPT)],
  ['/app.css', asset('text/css; charset=utf-8', CSS)],
  ['/favicon.svg', asset('image/svg+xml', FAVICON)],
]);

/** Bytes of the whole page as a browser loads it. */
export const PAGE_BYTES = [...ASSETS.values()].reduce((n, a) => n + a.body.length, 0);
