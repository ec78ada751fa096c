/**
 * HTTP test helpers: plain requests over fresh sockets, a raw-socket client, a server-sent
 * event reader, manual timers, the outlet in-process on a real hub, and the daemon as a
 * child process with --http on a free port.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { expect, it } from 'vitest';
import { DEFAULTS, type Config } from '../../../src/config/options.js';
import { Hub } from '../../../src/hub/hub.js';
import { createHttpOutlet, type HttpOutlet, type HttpOutletDeps } from '../../../src/outlets/http/outlet.js';
import type { TaskResult } from '../../../src/tasks/runner.js';
import type { TimerHandle, Timers } from '../../../src/util/timers.js';
import { DaemonProcess } from '../../helpers/daemon.js';
import { recordingLogger, type Recorded } from '../../helpers/fake.js';

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function request(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; localAddress?: string; body?: string } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A raw TCP client: everything received, and a promise for the close. */
export class RawClient {
  readonly socket: net.Socket;
  data = '';
  readonly closed: Promise<void>;
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      this.data += c;
      this.#wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => (this.#wake(), resolve())));
  }

  static connect(port: number, localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Waits until the received text matches, failing after timeoutMs with what arrived. */
  async until(match: (data: string) => boolean, timeoutMs = 3000): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    while (!match(this.data)) {
      if (performance.now() > deadline || this.socket.destroyed) throw new Error(`not received; got: ${JSON.stringify(this.data.slice(0, 500))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - performance.now()));
        this.#waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
    return this.data;
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** Parses a raw client's text/event-stream body into events (and counts heartbeat comments). */
export function parseEvents(raw: string): { events: SseEvent[]; heartbeats: number } {
  const body = raw.includes('\r\n\r\n') ? raw.slice(raw.indexOf('\r\n\r\n') + 4) : raw;
  const events: SseEvent[] = [];
  let heartbeats = 0;
  for (const block of body.split('\n\n')) {
    if (block.trim() === '') continue;
    const e: SseEvent = { event: 'message', data: '' };
    let isEvent = false;
    for (const line of block.split('\n')) {
      if (line === ': heartbeat') heartbeats += 1;
      else if (line.startsWith('event: ')) {
        e.event = line.slice(7);
        isEvent = true;
      }
      else if (line.startsWith('data: ')) e.data = line.slice(6);
      else if (line.startsWith('id: ')) e.id = line.slice(4);
    }
    if (isEvent) events.push(e);
  }
  return { events, heartbeats };
}

/** Opens /events on a raw socket (chunked encoding is decoded well enough for test frames). */
export async function openEvents(port: number, headers: Record<string, string> = {}): Promise<RawClient> {
  const c = await RawClient.connect(port);
  c.socket.write(`GET /events HTTP/1.1\r\nHost: t\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  return c;
}

export const eventsOf = (c: RawClient): SseEvent[] => parseEvents(dechunk(c.data)).events;

/** Removes HTTP/1.1 chunk-size lines from a streamed body. */
export function dechunk(raw: string): string {
  const head = raw.indexOf('\r\n\r\n');
  if (head === -1) return '';
  let rest = raw.slice(head + 4);
  let out = '';
  for (;;) {
    const nl = rest.indexOf('\r\n');
    if (nl === -1) break;
    const size = Number.parseInt(rest.slice(0, nl), 16);
    if (!Number.isFinite(size) || size === 0 || rest.length < nl + 2 + size) break;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
  return out;
}

/** Timers a test advances by hand; now() is the manual clock. */
export class ManualTimers implements Timers {
  #now = 0;
  /** Keyed by a real (already cleared) timeout object, used only as an identity. */
  readonly #due = new Map<TimerHandle, { at: number; fn: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout<A extends unknown[]>(fn: (...args: A) => void, ms: number, ...args: A): TimerHandle {
    const handle = setTimeout(() => {}, 0);
    clearTimeout(handle);
    this.#due.set(handle, { at: this.#now + ms, fn: () => fn(...args) });
    return handle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.#due.delete(handle);
  }

  /** Timers armed now. */
  get pending(): number {
    return this.#due.size;
  }

  /** Moves the clock and runs what fell due, in time order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const next = [...this.#due].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.#due.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
    }
    this.#now = end;
  }
}

export const INFO = { deviceId: 'shelf-pi', task: 'board', protocol: 'lines', gpio: 'mock', version: '9.9.9', pid: 42, node: 'v20.0.0', arch: 'arm64' };

export interface InProcess {
  hub: Hub;
  outlet: HttpOutlet;
  port: number;
  rec: Recorded;
  timers: ManualTimers;
  /** One whole pause with a successful reading, as the pause sequence does it. */
  reading(value: unknown, at?: string): void;
  close(): Promise<void>;
}

let clock = Date.parse('2026-01-01T00:00:00.000Z');

/** The HTTP outlet on 127.0.0.1:0 with a real hub (its timers manual), started. */
export async function inProcess(opts: { config?: Partial<Config>; task?: string; deps?: Partial<HttpOutletDeps> } = {}): Promise<InProcess> {
  const rec = recordingLogger('info');
  const timers = new ManualTimers();
  const hub = new Hub({ info: { ...INFO, task: opts.task ?? 'board' }, log: rec.log, historySize: 100, timers });
  const http = { host: '127.0.0.1', port: 0 };
  const config: Config = { ...DEFAULTS, http, ...opts.config };
  const outlet = createHttpOutlet({ config, http, hub, log: rec.log, timers, ...opts.deps });
  await outlet.start?.();
  return {
    hub,
    outlet,
    port: outlet.address!.port,
    rec,
    timers,
    reading(value, at = new Date((clock += 1000)).toISOString()) {
      const result: TaskResult = { ok: true, durationMs: 7, at, value };
      hub.pauseStarted();
      hub.recordTask(result);
      hub.pauseEnded();
      hub.publish();
    },
    close: async () => outlet.close?.(),
  };
}

/** The built daemon with --http on a free port; resolves once both listeners are up. */
export async function startHttpDaemon(args: string[] = [], env: Record<string, string> = {}): Promise<{ daemon: DaemonProcess; port: number; httpPort: number }> {
  const daemon = new DaemonProcess(['--port', '0', '--gpio', 'mock', '--http', '127.0.0.1:0', ...args], env);
  const port = await daemon.ready();
  const httpPort = (await daemon.waitForMsg('http listening')).port as number;
  return { daemon, port, httpPort };
}

/**
 * A system program some tests need (Debian's prometheus, chromium: .ci/run installs them).
 * Without it those tests are skipped, the reason in their title; on CI its absence fails.
 */
export function needs(program: string): { ok: boolean; title: (t: string) => string } {
  const ok = existsSync(program);
  if (!ok && process.env.CI) {
    it(`has ${program} (required on CI)`, () => {
      expect.fail(`${program} is missing: apt-get install it (see .ci/run)`);
    });
  }
  return { ok, title: (t) => (ok ? t : `${t} (skipped: ${program} not installed)`) };
}
