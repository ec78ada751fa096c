// The throughput/latency matrix: pinetd against the bare node:net servers, alternating A/B
// rounds per cell (bare, pinetd, bare, pinetd, ...) so drift hits both.
import { cpuSeconds, loadgen, mean, median, sleep, startServer, systemBusySeconds } from './lib.mjs';

// Sizes are request bytes on the wire: ECHO 1 KiB is "ECHO " + 1018 bytes + "\n" (answer 1019 B).
const SIZES = [16, 1024];
const CONNS = [1, 16, 256];
const DEPTHS = [1, 16];

/** Every cell: ECHO and raw echo at both sizes, PING (5 B) once per C x D. */
export function allCells() {
  const cells = [];
  for (const kind of ['echo', 'ping', 'raw']) {
    for (const size of kind === 'ping' ? [5] : SIZES) {
      for (const c of CONNS) for (const d of DEPTHS) cells.push({ kind, size, c, d });
    }
  }
  return cells;
}

/** The --quick subset: the cells the issue singles out, one of each kind. */
export function quickCells() {
  return [
    { kind: 'echo', size: 16, c: 16, d: 16 },
    { kind: 'echo', size: 1024, c: 16, d: 16 },
    { kind: 'echo', size: 1024, c: 1, d: 1 },
    { kind: 'ping', size: 5, c: 256, d: 1 },
    { kind: 'raw', size: 1024, c: 16, d: 16 },
    { kind: 'raw', size: 16, c: 256, d: 16 },
  ];
}

export const cellName = ({ kind, size, c, d }) => `${kind === 'raw' ? 'echo-mode' : kind.toUpperCase()} ${size === 1024 ? '1KiB' : `${size}B`} C=${c} D=${d}`;

async function one(bin, srv, cell, warmMs, measureMs) {
  const cpu0 = cpuSeconds(srv.pid);
  const busy0 = systemBusySeconds();
  const t0 = performance.now();
  const r = await loadgen(bin, ['load', srv.port, cell.kind, cell.size, cell.c, cell.d, warmMs, measureMs], warmMs + measureMs + 30000);
  const wall = (performance.now() - t0) / 1000;
  const server = cpuSeconds(srv.pid) - cpu0;
  r.serverCpuPct = (100 * server) / wall;
  // Everything else on the machine (other processes; our loadgen's own share estimated from its report).
  r.foreignCpuPct = Math.max(0, (100 * (systemBusySeconds() - busy0 - server)) / wall - r.cpuPct);
  return r;
}

/**
 * Runs the cells; returns [{cell, bare, pinetd}] with per-server median req/s, p50 and p99
 * (us) over the rounds, the load generator's and the server's CPU %.
 */
export async function runMatrix(bin, cells, { pinetdArgs, rounds, warmMs, measureMs, log }) {
  const servers = {};
  const serverFor = async (kind, who) => {
    const key = `${who}-${kind === 'raw' ? 'echo' : 'lines'}`;
    if (!servers[key]) {
      servers[key] =
        who === 'bare'
          ? await startServer(kind === 'raw' ? 'bare-echo' : 'bare-lines')
          : await startServer('pinetd', ['--protocol', kind === 'raw' ? 'echo' : 'lines', ...pinetdArgs]);
    }
    return servers[key];
  };
  const results = [];
  try {
    for (const cell of cells) {
      const runs = { bare: [], pinetd: [] };
      for (let r = 0; r < rounds; r++) {
        for (const who of ['bare', 'pinetd']) {
          const srv = await serverFor(cell.kind, who);
          runs[who].push(await one(bin, srv, cell, warmMs, measureMs));
          await sleep(100);
        }
      }
      const agg = (xs) => ({
        rps: median(xs.map((x) => x.rps)),
        p50: median(xs.map((x) => x.p50us)),
        p99: median(xs.map((x) => x.p99us)),
        lgCpu: Math.max(...xs.map((x) => x.cpuPct)),
        srvCpu: mean(xs.map((x) => x.serverCpuPct)),
        foreign: Math.max(...xs.map((x) => x.foreignCpuPct)),
        spread: xs.length > 1 ? (Math.max(...xs.map((x) => x.rps)) - Math.min(...xs.map((x) => x.rps))) / mean(xs.map((x) => x.rps)) : 0,
      });
      const res = { cell, bare: agg(runs.bare), pinetd: agg(runs.pinetd) };
      results.push(res);
      log(`${cellName(cell).padEnd(26)} bare ${res.bare.rps.toFixed(0).padStart(8)}  pinetd ${res.pinetd.rps.toFixed(0).padStart(8)}  ratio ${(res.pinetd.rps / res.bare.rps).toFixed(2)}`);
    }
  } finally {
    for (const s of Object.values(servers)) await s.stop();
  }
  return results;
}
