// Shared pieces of npm run bench: the compiled load generator, server child processes pinned
// to CPU 0, /proc readings. Everything is loopback, every wait is bounded.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const HERE = fileURLToPath(new URL('./', import.meta.url));
export const PINETD = join(ROOT, 'dist/cli/pinetd.cjs');
export const SERVER_CPU = '0';
export const LOADGEN_CPU = '1';
const TICK_HZ = 100; // USER_HZ: /proc/PID/stat counts CPU time in 1/100 s

const work = mkdtempSync(join(tmpdir(), 'pinetd-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** Compiles loadgen.c into the temp dir (cc -O2) and returns the binary's path. */
export function compileLoadgen() {
  const bin = join(work, 'loadgen');
  execFileSync('cc', ['-O2', '-Wall', '-o', bin, join(HERE, 'loadgen.c')], { stdio: 'inherit' });
  return bin;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);
export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
export function quantile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
}

export function pinetdHelp() {
  return execFileSync(process.execPath, [PINETD, '--help'], { encoding: 'utf8' });
}

/** A port that was free a moment ago (loopback). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * A server child on CPU 0. kind: 'bare-lines', 'bare-echo' or 'pinetd' (args appended).
 * Resolves once it accepts connections (or, with waitLog, once it logs `listening`).
 * Every stdout JSON line is kept in `logs` with its receive time (`at`, Date.now()).
 */
export async function startServer(kind, args = [], { env = {}, port, waitLog = false, timeoutMs = 15000 } = {}) {
  port ??= await freePort();
  const script = kind === 'pinetd' ? PINETD : join(HERE, kind === 'bare-echo' ? 'bare-echo.mjs' : 'bare-server.mjs');
  const argv = kind === 'pinetd' ? [script, '--host', '127.0.0.1', '--port', String(port), ...args] : [script];
  const t0 = performance.now();
  const child = spawn('taskset', ['-c', SERVER_CPU, process.execPath, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, PORT: String(port), ...env },
  });
  const srv = { kind, child, pid: child.pid, port, logs: [], stderr: '', startMs: NaN, listeners: new Set() };
  child.stderr.setEncoding('utf8').on('data', (d) => (srv.stderr += d));
  createInterface({ input: child.stdout }).on('line', (line) => {
    let rec;
    try {
      rec = JSON.parse(line);
    } catch {
      return;
    }
    rec.at = Date.now();
    srv.logs.push(rec);
    for (const l of srv.listeners) l(rec);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  srv.stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const deadline = performance.now() + timeoutMs;
  if (waitLog) {
    await Promise.race([
      waitFor(srv, (r) => r.msg === 'listening', timeoutMs),
      exited.then((e) => Promise.reject(new Error(`${kind} exited early (${e.code ?? e.signal}): ${srv.stderr}`))),
    ]);
  } else {
    while (!(await canConnect(port))) {
      if (performance.now() > deadline || child.exitCode !== null) {
        await srv.stop();
        throw new Error(`${kind} did not start: ${srv.stderr}`);
      }
      await sleep(10);
    }
  }
  srv.startMs = performance.now() - t0;
  return srv;
}

/** The next (or an already logged, with past) log record matching pred. */
export function waitFor(srv, pred, timeoutMs, { past = true } = {}) {
  const old = past ? srv.logs.find(pred) : undefined;
  if (old) return Promise.resolve(old);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      srv.listeners.delete(l);
      reject(new Error(`${srv.kind}: no matching log line within ${timeoutMs} ms`));
    }, timeoutMs);
    const l = (rec) => {
      if (!pred(rec)) return;
      clearTimeout(timer);
      srv.listeners.delete(l);
      resolve(rec);
    };
    srv.listeners.add(l);
  });
}

export function procStatus(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const num = (re) => Number(re.exec(s)?.[1] ?? NaN);
  // RssAnon: what the process itself holds; VmRSS adds file pages (the node binary's code as
  // it is first run), which are shared and which the kernel can drop.
  return { rssKb: num(/VmRSS:\s+(\d+) kB/), anonKb: num(/RssAnon:\s+(\d+) kB/), threads: num(/Threads:\s+(\d+)/) };
}

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK_HZ;
}

/** Runs the load generator on CPU 1 and returns its JSON result; rejects on a wrong byte. */
export function loadgen(bin, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', LOADGEN_CPU, bin, ...args.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const res = out.trim() ? JSON.parse(out.trim().split('\n').pop()) : { error: 'no output' };
      if (code !== 0 || res.error) reject(new Error(`loadgen ${args.join(' ')}: exit ${code}: ${out.trim()}`));
      else resolve(res);
    });
  });
}

/**
 * loadgen hold: N held connections. send() makes each send one PING and resolves with the
 * answer times; close() ends them. Bounded by timeoutMs overall.
 */
export async function hold(bin, port, n, timeoutMs) {
  const child = spawn('taskset', ['-c', LOADGEN_CPU, bin, 'hold', String(port), String(n), String(timeoutMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 1000);
  const waiting = [];
  createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const next = () =>
    Promise.race([
      new Promise((resolve) => waiting.push(resolve)),
      exited.then((code) => Promise.reject(new Error(`loadgen hold exited ${code}`))),
    ]);
  const first = await next();
  if (first.connected !== n) throw new Error(`loadgen hold: ${JSON.stringify(first)}`);
  return {
    send: () => {
      child.stdin.write('ping\n');
      return next();
    },
    close: async () => {
      child.stdin.end();
      await exited;
      clearTimeout(timer);
    },
  };
}

/** CPU seconds all CPUs have been busy (from /proc/stat): minus ours, the machine's other load. */
export function systemBusySeconds() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / TICK_HZ; // user nice system irq softirq steal
}
