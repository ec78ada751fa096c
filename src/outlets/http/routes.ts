/**
 * The routes: one table from path to handler, and the rules every response follows — only
 * GET and HEAD (405 with Allow), no request bodies (413), unknown paths 404, the same
 * security headers everywhere, Cache-Control per route. JSON comes from the hub's payloads
 * unchanged, so /api/status is STATUS, /api/reading READ and /api/history HISTORY.
 * Every request goes through the pause gate: one arriving during a pause is answered after it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProtocolError } from '../../errors.js';
import type { Hub } from '../../hub/hub.js';
import { MAX_HISTORY_REQUEST } from '../../protocol/commands.js';
import type { EventStreams } from './events.js';
import { CONTENT_TYPE as METRICS_TYPE } from './exposition.js';
import type { Metrics } from './metrics.js';
import type { PauseGate } from './gate.js';
import { ASSETS, type Asset } from './page/assets.js';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};
/** Dynamic answers are never cached; page assets are revalidated (ETag) on every load. */
const NO_STORE = 'no-store';
const REVALIDATE = 'no-cache';
const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

export interface RouteDeps {
  readonly hub: Hub;
  readonly streams: EventStreams;
  readonly metrics: Metrics;
  readonly gate: PauseGate;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string | Buffer, cache = NO_STORE, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': cache, ...extra });
  res.end(req.method === 'HEAD' ? undefined : body);
}

const text = (req: IncomingMessage, res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void => send(req, res, status, TEXT, `${body}\n`, NO_STORE, extra);
const json = (req: IncomingMessage, res: ServerResponse, status: number, body: string): void => send(req, res, status, JSON_TYPE, body);

function asset(a: Asset): Handler {
  return (req, res) => {
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304, { ETag: a.etag, 'Cache-Control': REVALIDATE });
      return void res.end();
    }
    send(req, res, 200, a.type, a.body, REVALIDATE, { ETag: a.etag });
  };
}

export function createRoutes({ hub, streams, metrics, gate }: RouteDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const routes = new Map<string, Handler>([
    ['/healthz', (req, res) => (hub.state === 'draining' ? text(req, res, 503, 'draining') : text(req, res, 200, 'ok'))],
    ['/api/status', (req, res) => json(req, res, 200, JSON.stringify(hub.status()))],
    [
      '/api/reading',
      (req, res) => {
        const body = hub.readJson();
        json(req, res, body === undefined ? 404 : 200, body ?? JSON.stringify({ error: ProtocolError.NO_READING }));
      },
    ],
    [
      '/api/history',
      (req, res, url) => {
        const raw = url.searchParams.get('n');
        const n = raw === null ? undefined : /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
        if (n !== undefined && !(n <= MAX_HISTORY_REQUEST)) return json(req, res, 400, JSON.stringify({ error: ProtocolError.USAGE, usage: `/api/history?n=<0..${MAX_HISTORY_REQUEST}>` }));
        json(req, res, 200, hub.historyJson(n));
      },
    ],
    [
      '/events',
      (req, res, url) => {
        if (hub.state === 'draining') return text(req, res, 503, 'draining', { 'Retry-After': '10' });
        if (req.method === 'HEAD') return send(req, res, 200, 'text/event-stream; charset=utf-8', '');
        const header = req.headers['last-event-id'];
        streams.open(req, res, (typeof header === 'string' ? header : undefined) ?? url.searchParams.get('lastEventId') ?? undefined);
      },
    ],
    ['/metrics', (req, res) => send(req, res, 200, METRICS_TYPE, metrics.render())],
    ...[...ASSETS].map(([path, a]) => [path, asset(a)] as [string, Handler]),
  ]);

  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(req, res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
    const length = req.headers['content-length'];
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) {
      return text(req, res, 413, 'request bodies are not accepted', { Connection: 'close' });
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://pinetd');
    } catch {
      return text(req, res, 400, 'bad request');
    }
    const route = routes.get(url.pathname);
    if (!route) return text(req, res, 404, 'not found');
    route(req, res, url);
  };

  return (req, res) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    res.once('finish', () => metrics.response(res.statusCode));
    const queued = gate.submit({ run: () => answer(req, res), alive: () => !res.destroyed && !req.socket.destroyed });
    if (!queued) text(req, res, 503, 'busy: too many requests held by the pause', { 'Retry-After': '1' });
  };
}
