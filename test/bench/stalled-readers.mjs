// npm run bench:stalled — a reliability check, not a timed unit test: N connections (98 by
// default) each store nothing, pipeline GETs of a 4000-byte value and never read. Everything a
// stalled connection makes the daemon hold must stay within its per-connection cap, so the
// daemon's RSS may rise by at most LIMIT_MB (32 MB) in total. Prints before/after/delta and
// exits 1 when the bound is broken.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONNECTIONS = Number(process.env.STALLED_CONNECTIONS ?? 98);
const GETS_PER_CONNECTION = Number(process.env.STALLED_GETS ?? 20_000);
const LIMIT_MB = Number(process.env.STALLED_LIMIT_MB ?? 32);
const VALUE = 'v'.repeat(4000);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssMb = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

const args = [`${ROOT}dist/cli/pinetd.cjs`, '--port', '0', '--pause-every', '0', '--gpio', 'mock', '--max-clients', '1000', '--max-line', '8192'];
// Older builds have no --max-clients-per-ip; all connections come from 127.0.0.1 here.
if (process.env.STALLED_NO_PER_IP !== '1') args.push('--max-clients-per-ip', '0');
const child = spawn(process.execPath, ['--expose-gc', ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { PATH: process.env.PATH } });
const port = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
    const m = /"port":(\d+)/.exec(out);
    if (m) resolve(Number(m[1]));
  });
  child.once('exit', (code) => reject(new Error(`pinetd exited ${code}`)));
});

const connect = () => new Promise((resolve, reject) => {
  const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
  s.on('error', reject);
});

// One reading client stores the value.
const setter = await connect();
await new Promise((resolve) => {
  setter.once('data', resolve);
  setter.write(`SET k ${VALUE}\n`);
});
await sleep(500);
const before = rssMb(child.pid);

const sockets = [];
for (let i = 0; i < CONNECTIONS; i++) {
  const s = await connect();
  s.pause(); // never reads
  s.write('GET k\n'.repeat(GETS_PER_CONNECTION));
  sockets.push(s);
}
// Let every connection fill what it can, then sample for a while and keep the peak.
let peak = 0;
for (let i = 0; i < 30; i++) {
  await sleep(200);
  peak = Math.max(peak, rssMb(child.pid));
}
const settled = rssMb(child.pid);
for (const s of sockets) s.destroy();
setter.destroy();
child.kill('SIGKILL');

const delta = peak - before;
console.log(`stalled readers: ${CONNECTIONS} connections x ${GETS_PER_CONNECTION} pipelined GETs of ${VALUE.length} bytes, never read`);
console.log(`RSS before ${before.toFixed(1)} MB, peak ${peak.toFixed(1)} MB, settled ${settled.toFixed(1)} MB, rise ${delta.toFixed(1)} MB (limit ${LIMIT_MB} MB)`);
if (!(delta <= LIMIT_MB)) {
  console.log('FAIL: over the bound');
  process.exit(1);
}
console.log('OK');
