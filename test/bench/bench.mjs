// npm run bench [-- --quick] [-- --arm] [-- --seconds N --rounds N --cells REGEX]
// pinetd against bare node:net servers in the same run: servers on CPU 0, the C load generator
// (test/bench/loadgen.c, compiled now) on CPU 1. Prints one table of ratios (pinetd / bare).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cellName, allCells, quickCells, runMatrix } from './matrix.mjs';
import { jitter, memoryAndStorm, resumeTime, startup } from './extras.mjs';
import { compileLoadgen, median, pinetdHelp } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    arm: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    cells: { type: 'string' },
    'skip-matrix': { type: 'boolean', default: false },
  },
});
const quick = opt.quick;
// Many short alternating rounds, each server's median: on a shared 2-core VM one server's
// rounds in one cell differed by up to 71%, and two rounds' mean followed whichever was hit.
const measureMs = 1000 * Number(opt.seconds ?? (quick ? 1 : 2));
const rounds = Number(opt.rounds ?? (quick ? 3 : 5));
const warmMs = 500;
const log = (s) => process.stderr.write(`${s}\n`);
const t0 = performance.now();

const help = pinetdHelp();
const hasBacklog = help.includes('--backlog');
const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
// Same backlog for both servers once pinetd has the option; Node's default (511) otherwise.
const backlogArgs = hasBacklog ? ['--backlog', '1024'] : [];
const bareEnv = hasBacklog ? { BACKLOG: '1024' } : {};
const pinetdArgs = ['--pause-every', '0', '--log-level', 'warn', '--gpio', 'mock', '--max-clients', '3000', '--max-clients-per-ip', '0', ...backlogArgs];

const bin = compileLoadgen();
log(`loadgen compiled; servers on CPU 0, loadgen on CPU 1; ${quick ? 'quick' : 'full'} run: ${rounds} round(s) x (${warmMs} ms warm-up + ${measureMs} ms) per cell and server`);

let cells = quick ? quickCells() : allCells();
if (opt.cells) cells = cells.filter((c) => new RegExp(opt.cells).test(cellName(c)));
const matrix = opt['skip-matrix'] ? [] : await runMatrix(bin, cells, { pinetdArgs, rounds, warmMs, measureMs, log });

log('start->listening ...');
const start = await startup(quick ? 3 : 7);
log('RSS, threads, storm ...');
const mem = await memoryAndStorm(bin, { n: 1000, storms: quick ? 3 : 7, pinetdArgs, bareEnv });
log('pause jitter ...');
// The pause sections set their own --pause-every and need the info-level paused/resumed lines.
const baseArgs = pinetdArgs.filter((a, i, all) => !['--pause-every', '--log-level'].includes(a) && !['--pause-every', '--log-level'].includes(all[i - 1]));
const jit = await jitter(bin, { conns: 256, seconds: quick ? 3 : 6, pinetdArgs: baseArgs });
log('resume time ...');
const res = await resumeTime(bin, { n: 1000, pauses: quick ? 5 : 8, pinetdArgs: baseArgs });
let arm;
if (opt.arm) {
  log('arm64 tarball under qemu ...');
  arm = await (await import('./arm.mjs')).armFigures({ runs: quick ? 2 : 3, log });
}

// ---- the table ----
const f = (n) => (!Number.isFinite(n) ? '-' : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));
const r2 = (a, b) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : '-');
const lines = [];
const p = (s) => lines.push(s);
p('');
p(`pinetd benchmark — node ${process.version}, ${quick ? 'quick' : 'full'}: ${rounds} x (${warmMs / 1000} s warm-up + ${measureMs / 1000} s) per cell and server, A/B alternating`);
p('ratio = pinetd / bare. req/s: higher is better; p50/p99 (us) and everything else: lower is better.');
p('lg% = load generator CPU (max over rounds; < 100 means it was not the bottleneck), srv% = server CPU (pinetd, bare).');
if (matrix.length) {
  p('');
  p(`${'cell'.padEnd(26)} ${'bare req/s'.padStart(10)} ${'pinetd'.padStart(10)} ${'ratio'.padStart(6)} | ${'p50 bare'.padStart(8)} ${'pinetd'.padStart(7)} ${'ratio'.padStart(6)} | ${'p99 bare'.padStart(8)} ${'pinetd'.padStart(7)} ${'ratio'.padStart(6)} | ${'lg%'.padStart(4)} ${'srv% p/b'.padStart(9)}`);
  for (const { cell, bare: b, pinetd: q } of matrix) {
    p(
      `${cellName(cell).padEnd(26)} ${f(b.rps).padStart(10)} ${f(q.rps).padStart(10)} ${r2(q.rps, b.rps).padStart(6)} | ${f(b.p50).padStart(8)} ${f(q.p50).padStart(7)} ${r2(q.p50, b.p50).padStart(6)} | ${f(b.p99).padStart(8)} ${f(q.p99).padStart(7)} ${r2(q.p99, b.p99).padStart(6)} | ${f(Math.max(b.lgCpu, q.lgCpu)).padStart(4)} ${`${f(q.srvCpu)}/${f(b.srvCpu)}`.padStart(9)}`,
    );
  }
  const spread = Math.max(...matrix.flatMap((m) => [m.bare.spread, m.pinetd.spread]));
  const foreign = Math.max(...matrix.flatMap((m) => [m.bare.foreign, m.pinetd.foreign]));
  p(`(other processes on this machine used up to ${f(foreign)}% of a CPU during a run; median ${f(median(matrix.flatMap((m) => [m.bare.foreign, m.pinetd.foreign])))}%)`);
  if (rounds > 1) p(`(largest round-to-round req/s spread of one server in one cell: ${(100 * spread).toFixed(0)}%)`);
}
p('');
p(`${'figure'.padEnd(44)} ${'bare'.padStart(9)} ${'pinetd'.padStart(9)} ${'ratio'.padStart(6)}`);
const row = (name, b, q) => p(`${name.padEnd(50)} ${f(b).padStart(9)} ${f(q).padStart(9)} ${(b === undefined ? '' : r2(q, b)).padStart(6)}`);
row('start->listening ms (default config)', start.bare, start['pinetd default']);
row('start->listening ms (--gpio mock)', start.bare, start['pinetd --gpio mock']);
row('start->listening ms (no code cache: 1st start)', start.bare, start['pinetd no code cache']);
row('idle RSS MB', mem.bare.idleRssMb, mem.pinetd.idleRssMb);
row('idle threads', mem.bare.threads, mem.pinetd.threads);
row('RSS with 1000 idle connections MB', mem.bare.heldRssMb, mem.pinetd.heldRssMb);
row('RSS per idle connection KB (first 1000)', mem.bare.perConnKb, mem.pinetd.perConnKb);
row('  the same, RssAnon (no file pages) KB', mem.bare.perConnAnonKb, mem.pinetd.perConnAnonKb);
row('RSS per idle connection KB (next 1000)', mem.bare.perConnNextKb, mem.pinetd.perConnNextKb);
row('  the same, RssAnon KB', mem.bare.perConnNextAnonKb, mem.pinetd.perConnNextAnonKb);
row('1000 held connections, one PING each: all ms', mem.bare.heldPingMs, mem.pinetd.heldPingMs);
row('storm: 1000 connects + PING, all answered, 1st ms', mem.bare.stormFirstMs, mem.pinetd.stormFirstMs);
row('storm: the same, median of later runs ms', mem.bare.stormMs, mem.pinetd.stormMs);
row('storm: median connection answered (later runs) ms', mem.bare.stormP50Ms, mem.pinetd.stormP50Ms);
row('storm: loadgen CPU ms', mem.bare.stormCpuMs, mem.pinetd.stormCpuMs);
row(`pause-start jitter p50 ms (${jit.pauses} pauses)`, undefined, jit.p50);
row('pause-start jitter p99 ms', undefined, jit.p99);
row('pause-start jitter max ms', undefined, jit.max);
row('resume 1000 held: release, 1st pause ms', undefined, res.releaseFirstMs);
row('resume 1000 held: release (all reading again) ms', undefined, res.releaseMs);
row('resume 1000 held: resumed line -> last answer ms', undefined, res.fromResumedMs);
row('resume 1000 held: first -> last answer ms', undefined, res.spreadMs);
if (arm) {
  row('arm64/qemu start->listening ms (default)', arm.bare.startMs, arm.pinetd.startMs);
  row('arm64/qemu start->listening ms (--gpio mock)', arm.bare.startMs, arm.mock.startMs);
  row('arm64/qemu start->listening ms (no code cache)', arm.bare.startMs, arm.nocache.startMs);
  row('arm64/qemu idle RSS MB (incl. qemu)', arm.bare.rssMb, arm.pinetd.rssMb);
}
p('');
p(`backlog: ${hasBacklog ? '--backlog 1024 (bare: 1024 too)' : "pinetd has no --backlog: both Node's default 511"}; net.core.somaxconn ${somaxconn}`);
p(`jitter: ${jit.source}; ${jit.skipped} skipped periods; median pause ${f(jit.pauseMsP50)} ms; ${f(jit.loadRps)} req/s of ECHO 16 B at C=256 D=16 meanwhile`);
p(`resume: median of pauses after the first two (cold code); worst resumed->last answer ${f(res.maxFromResumedMs)} ms; resumed-line times have 1 ms resolution`);
p(`total bench time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
console.log(lines.join('\n'));
