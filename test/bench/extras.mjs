// The non-matrix figures: start->listening, RSS (idle and with 1000 held connections),
// threads, the 1000-connection storm, pause-start jitter and resume time.
import { join } from 'node:path';
import { ROOT, hold, loadgen, median, procStatus, quantile, sleep, startServer, waitFor } from './lib.mjs';

/**
 * Median start->listening (spawn to the `listening` line) of n alternating starts. pinetd runs
 * with its V8 code cache (written by a first run that lives past its write, 1 s) and, as on
 * the first start after an install or upgrade, without it.
 */
export async function startup(n) {
  const variants = {
    bare: ['bare-lines', [], {}],
    'pinetd default': ['pinetd', [], {}],
    'pinetd --gpio mock': ['pinetd', ['--gpio', 'mock'], {}],
    'pinetd no code cache': ['pinetd', [], { PINETD_CODE_CACHE: 'off' }],
  };
  const warm = await startServer('pinetd', [], { waitLog: true });
  await sleep(1500);
  await warm.stop();
  const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let i = 0; i < n; i++) {
    for (const [name, [kind, args, env]] of Object.entries(variants)) {
      const srv = await startServer(kind, args, { waitLog: true, env });
      times[name].push(srv.startMs);
      await srv.stop();
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

/**
 * Per server: idle RSS and threads (1 s after start), RSS with `n` idle connections held and
 * with `n` more (the second thousand shows what a connection costs once the heap and the
 * compiled code have grown), then the storm (n connections at once, one PING each): the first
 * run, and the median of the others.
 */
export async function memoryAndStorm(bin, { n, storms, pinetdArgs, bareEnv }) {
  const out = {};
  for (const who of ['bare', 'pinetd']) {
    const srv = who === 'bare' ? await startServer('bare-lines', [], { env: bareEnv }) : await startServer('pinetd', pinetdArgs);
    try {
      await sleep(1000);
      const idle = procStatus(srv.pid);
      const held = await hold(bin, srv.port, n, 30000);
      await sleep(1000);
      const busy = procStatus(srv.pid);
      const more = await hold(bin, srv.port, n, 30000);
      await sleep(1000);
      const busier = procStatus(srv.pid);
      const answers = await held.send(); // all held connections still work (n more idle beside them)
      await more.close();
      await held.close();
      if (answers.error) throw new Error(`${who}: held connections: ${JSON.stringify(answers)}`);
      await sleep(500);
      const runs = [];
      for (let i = 0; i < storms; i++) {
        runs.push(await loadgen(bin, ['storm', srv.port, n, 10000], 15000));
        await sleep(500);
      }
      out[who] = {
        idleRssMb: idle.rssKb / 1024,
        threads: idle.threads,
        heldRssMb: busy.rssKb / 1024,
        perConnKb: (busy.rssKb - idle.rssKb) / n,
        perConnAnonKb: (busy.anonKb - idle.anonKb) / n,
        perConnNextKb: (busier.rssKb - busy.rssKb) / n,
        perConnNextAnonKb: (busier.anonKb - busy.anonKb) / n,
        heldPingMs: answers.lastAtMs - answers.sentAtMs,
        stormFirstMs: runs[0].allMs,
        stormMs: median(runs.slice(1).map((r) => r.allMs)),
        stormP50Ms: median(runs.slice(1).map((r) => r.p50Ms)),
        stormCpuMs: median(runs.slice(1).map((r) => r.cpuMs)),
      };
    } finally {
      await srv.stop();
    }
  }
  return out;
}

/**
 * pinetd --pause-every 200ms with `conns` connections under load: pause-start jitter. Uses a
 * `lateMs` field of the `paused` line when pinetd logs one; otherwise derives it from the log
 * timestamps (ms resolution) anchored at `listening`: late = t(paused) - (t(listening) + n*period).
 */
export async function jitter(bin, { conns, seconds, pinetdArgs }) {
  const period = 200;
  const srv = await startServer('pinetd', [...pinetdArgs, '--log-level', 'info', '--pause-every', `${period}ms`, '--task', 'board'], { waitLog: true });
  try {
    const listenAt = Date.parse(srv.logs.find((r) => r.msg === 'listening').time);
    const load = await loadgen(bin, ['load', srv.port, 'echo', 16, conns, 16, 0, seconds * 1000], seconds * 1000 + 30000);
    const paused = srv.logs.filter((r) => r.msg === 'paused');
    const resumed = srv.logs.filter((r) => r.msg === 'resumed');
    const measured = paused.every((r) => typeof r.lateMs === 'number');
    const late = paused.map((r) => {
      if (measured) return r.lateMs;
      const t = Date.parse(r.time) - listenAt;
      return t - Math.round(t / period) * period;
    });
    return {
      source: measured ? 'lateMs' : 'derived from log timestamps (1 ms resolution)',
      pauses: paused.length,
      skipped: srv.logs.filter((r) => /skip/.test(r.msg ?? '')).length,
      p50: quantile(late, 0.5),
      p99: quantile(late, 0.99),
      max: Math.max(...late),
      pauseMsP50: quantile(resumed.map((r) => r.durationMs), 0.5),
      loadRps: load.rps,
    };
  } finally {
    await srv.stop();
  }
}

/**
 * Resume time at `n` connections: a pause holds them (a 300 ms task every 1 s), each sends one
 * PING during it. releaseMs (the `resumed` line's, precise): letting every held connection go;
 * then from the `resumed` line (ms resolution) to the last answer, and from the first to the
 * last answer (precise): answering them, which the bare server's "1000 held PINGs" matches.
 */
export async function resumeTime(bin, { n, pauses, pinetdArgs }) {
  const task = join(ROOT, 'test/fixtures/tasks/slow.mjs');
  const srv = await startServer('pinetd', [...pinetdArgs, '--log-level', 'info', '--pause-every', '1s', '--task', task, '--task-timeout', '2s'], {
    env: { PINETD_TEST_TASK_MS: '300' },
    waitLog: true,
  });
  const runs = [];
  try {
    const held = await hold(bin, srv.port, n, 30000);
    try {
      for (let i = 0; i < pauses; i++) {
        const paused = await waitFor(srv, (r) => r.msg === 'paused', 5000, { past: false });
        const pausedAt = Date.parse(paused.time);
        const resumedLine = waitFor(srv, (r) => r.msg === 'resumed' && Date.parse(r.time) >= pausedAt, 5000, { past: false });
        const answers = await held.send();
        if (answers.error) throw new Error(`resume: ${JSON.stringify(answers)}`);
        const resumed = await resumedLine;
        const resumedAt = Date.parse(resumed.time);
        if (answers.sentAtMs > resumedAt) throw new Error('resume: the PINGs were not sent during the pause');
        runs.push({ fromResumed: answers.lastAtMs - resumedAt, spread: answers.lastAtMs - answers.firstAtMs, release: resumed.releaseMs ?? NaN });
      }
    } finally {
      await held.close();
    }
  } finally {
    await srv.stop();
  }
  // The first pauses run the release code cold (interpreted); a daemon pauses all day.
  const warm = runs.slice(2);
  return { releaseFirstMs: runs[0]?.release ?? NaN, releaseMs: median(warm.map((r) => r.release)), fromResumedMs: median(runs.map((r) => r.fromResumed)), spreadMs: median(runs.map((r) => r.spread)), maxFromResumedMs: Math.max(...runs.map((r) => r.fromResumed)) };
}
