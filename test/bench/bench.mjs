// npm run bench: pinetd against a bare node:net line server, same machine, same run.
// Closed-loop load (one request in flight per connection) from this process; the servers
// are child processes. Prints each figure and pinetd's ratio to the bare server.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DURATION_MS = Number(process.env.BENCH_MS ?? 2000);
const CONCURRENCY = [1, 16, 256];
const COMMANDS = { PING: 'PING\n', ECHO: `ECHO ${'x'.repeat(64)}\n` };

const SERVERS = {
  bare: [fileURLToPath(new URL('./bare-server.mjs', import.meta.url))],
  pinetd: [`${ROOT}dist/cli/main.js`, '--port', '0', '--pause-every', '0', '--gpio', 'mock', '--max-clients', '1000', '--max-clients-per-ip', '0', '--log-level', 'info'],
};

function start(name) {
  const t0 = performance.now();
  const child = spawn(process.execPath, SERVERS[name], { stdio: ['ignore', 'pipe', 'inherit'], env: { PATH: process.env.PATH } });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /"port":(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), startMs: performance.now() - t0 });
    });
    child.on('exit', (code) => reject(new Error(`${name} exited ${code}`)));
  });
}

function rssKb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function load(port, concurrency, request) {
  const latencies = [];
  const deadline = performance.now() + DURATION_MS;
  const conns = await Promise.all(Array.from({ length: concurrency }, () => new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(s));
    s.on('error', reject);
  })));
  await Promise.all(conns.map((s) => new Promise((resolve) => {
    let sentAt = 0;
    let buf = '';
    const send = () => {
      if (performance.now() >= deadline) return resolve();
      sentAt = performance.now();
      s.write(request);
    };
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        buf = buf.slice(nl + 1);
        latencies.push(performance.now() - sentAt);
        send();
      }
    });
    send();
  })));
  for (const s of conns) s.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { rps: latencies.length / (DURATION_MS / 1000), p50: q(0.5), p99: q(0.99) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
const row = (metric, bare, pinetd, better) => rows.push({ metric, bare, pinetd, ratio: pinetd / bare, better });

// Start-to-listening, median of 5 cold starts each.
for (const metric of ['start-to-listening ms']) {
  const times = { bare: [], pinetd: [] };
  for (let i = 0; i < 5; i++) {
    for (const name of ['bare', 'pinetd']) {
      const s = await start(name);
      times[name].push(s.startMs);
      s.child.kill('SIGKILL');
    }
  }
  row(metric, median(times.bare), median(times.pinetd), 'lower');
}

const servers = { bare: await start('bare'), pinetd: await start('pinetd') };
await new Promise((r) => setTimeout(r, 1000));
row('idle RSS MB', rssKb(servers.bare.child.pid) / 1024, rssKb(servers.pinetd.child.pid) / 1024, 'lower');

for (const [cmd, request] of Object.entries(COMMANDS)) {
  for (const c of CONCURRENCY) {
    const r = {};
    for (const name of ['bare', 'pinetd']) r[name] = await load(servers[name].port, c, request);
    row(`${cmd} c=${c} req/s`, r.bare.rps, r.pinetd.rps, 'higher');
    row(`${cmd} c=${c} p50 ms`, r.bare.p50, r.pinetd.p50, 'lower');
    row(`${cmd} c=${c} p99 ms`, r.bare.p99, r.pinetd.p99, 'lower');
  }
}
row('RSS after load MB', rssKb(servers.bare.child.pid) / 1024, rssKb(servers.pinetd.child.pid) / 1024, 'lower');
for (const s of Object.values(servers)) s.child.kill('SIGKILL');

const fmt = (n) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(3));
console.log(`pinetd benchmark (node ${process.version}, ${DURATION_MS} ms per load run, closed loop)`);
console.log(`${'metric'.padEnd(24)} ${'bare'.padStart(10)} ${'pinetd'.padStart(10)} ${'ratio'.padStart(7)}  (pinetd/bare)`);
for (const r of rows) console.log(`${r.metric.padEnd(24)} ${fmt(r.bare).padStart(10)} ${fmt(r.pinetd).padStart(10)} ${r.ratio.toFixed(2).padStart(7)}  ${r.better} is better`);
