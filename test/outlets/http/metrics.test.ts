/**
 * /metrics: the exposition for every kind of reading passes the real `promtool check
 * metrics`, and a real Prometheus server scraping a real daemon sees the counters and the
 * reading gauge with the daemon's values.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LineClient } from '../../helpers/client.js';
import { inProcess, needs, request, startHttpDaemon, type InProcess } from './helpers.js';

let open: InProcess | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

async function scrape(o: InProcess): Promise<string> {
  const res = await request(o.port, '/metrics');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  expect(res.headers['cache-control']).toBe('no-store');
  return res.body;
}

const CASES: Array<{ task: string; value: unknown; expect: RegExp[] }> = [
  {
    task: 'board',
    value: { socTempC: 48.2, zones: { 'cpu-thermal': 48.2, 'gpu "x"': 45 }, loadAvg: [0.5, 0.25, 0.1] },
    expect: [/^pinetd_soc_temperature_celsius 48\.2$/m, /^pinetd_load_average\{window="5m"\} 0\.25$/m, /^pinetd_thermal_zone_temperature_celsius\{zone="gpu \\"x\\""\} 45$/m],
  },
  {
    task: 'ds18b20',
    value: { sensors: { '28-00000a1b2c3d': 21.437, '28-0316a2794cff': null }, errors: { '28-0316a2794cff': 'crc' } },
    expect: [/^pinetd_ds18b20_temperature_celsius\{sensor="28-00000a1b2c3d"\} 21\.437$/m, /^pinetd_ds18b20_errors_total\{sensor="28-0316a2794cff",reason="crc"\} 2$/m],
  },
  { task: 'gpio-inputs', value: { door: 1, button: 0 }, expect: [/^pinetd_gpio_input\{name="door"\} 1$/m, /^pinetd_gpio_input\{name="button"\} 0$/m] },
  { task: '/opt/tank.mjs', value: { level: 3.5, pump: { on: true, rpm: 1200 }, label: 'x' }, expect: [/^pinetd_reading_value\{field="level"\} 3\.5$/m, /^pinetd_reading_value\{field="pump\.on"\} 1$/m] },
];

const PROMTOOL = needs('/usr/bin/promtool');
const PROMETHEUS = needs('/usr/bin/prometheus');

describe.skipIf(!PROMTOOL.ok)(PROMTOOL.title('/metrics'), () => {
  for (const c of CASES) {
    it(`passes promtool check metrics with a ${c.task} reading, LEDs and an MQTT section, and shows the values`, async () => {
      const o = (open = await inProcess({ task: c.task }));
      o.hub.addSection('leds', () => ({ ready: 'on', task: 'off', error: 'blinking' }));
      o.hub.addSection('mqtt', () => ({ connected: true, queued: 2, dropped: 7 }));
      o.reading(c.value);
      o.reading(c.value);
      o.hub.recordTask({ ok: false, durationMs: 3000, at: new Date().toISOString(), error: { code: 'PINETD_E_TASK_TIMEOUT', message: 'x' } });
      const text = await scrape(o);
      const check = promtool(text);
      expect(check.output).toBe('');
      expect(check.status).toBe(0);
      for (const re of c.expect) expect(text).toMatch(re);
      expect(text).toMatch(/^pinetd_info\{device_id="shelf-pi",version="9\.9\.9",node="v20\.0\.0",arch="arm64",gpio="mock",task="[^"]+"\} 1$/m);
      expect(text).toMatch(/^pinetd_task_duration_seconds_bucket\{le="2\.5"\} 2$/m);
      expect(text).toMatch(/^pinetd_task_duration_seconds_count 3$/m);
      expect(text).toMatch(/^pinetd_task_failures_total 1$/m);
      expect(text).toMatch(/^pinetd_led_on\{role="error"\} 1$/m);
      expect(text).toMatch(/^pinetd_led_on\{role="task"\} 0$/m);
      expect(text).toMatch(/^pinetd_mqtt_connected 1$/m);
      expect(text).toMatch(/^pinetd_mqtt_dropped_total 7$/m);
      expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
      expect(text).toMatch(/^pinetd_event_loop_lag_p99_seconds [\d.e-]+$/m);
    });
  }

  it('reports a blocked event loop as lag at the next scrape', async () => {
    const o = (open = await inProcess());
    await scrape(o); // starts the sampling
    const block = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end); // a task module blocking the loop
    };
    // Two 0 ms timers in a row: the second fires a loop turn later, after the (overdue) sampler ran.
    const tick = () => new Promise((r) => setTimeout(r, 0));
    const timersPhase = async () => {
      await tick();
      await tick();
    };
    block(100); // outlasts the 50 ms sampling period: the sampler's first tick (its baseline) is due
    await timersPhase();
    block(250);
    await timersPhase();
    const text = await scrape(o);
    const max = Number(/^pinetd_event_loop_lag_max_seconds (\S+)$/m.exec(text)?.[1]);
    expect(max).toBeGreaterThan(0.15);
    expect(max).toBeLessThan(5);
  });

  it('before the first reading: no reading gauges, still valid', async () => {
    const o = (open = await inProcess());
    const text = await scrape(o);
    expect(promtool(text)).toEqual({ status: 0, output: '' });
    expect(text).not.toMatch(/pinetd_soc_temperature_celsius|pinetd_last_reading_timestamp_seconds/);
    expect(text).toMatch(/^pinetd_pauses_total 0$/m);
  });
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(!PROMETHEUS.ok)(PROMETHEUS.title('a real Prometheus server scraping the daemon'), () => {
  it('stores pinetd_requests_total and the DS18B20 gauge with the daemon values', async () => {
    const { daemon, port, httpPort } = await startHttpDaemon(['--pause-every', '200ms', '--task', 'ds18b20', '--w1-root', 'test/fixtures/w1/good']);
    const dir = mkdtempSync(join(tmpdir(), 'pinetd-prom-'));
    const promPort = await freePort();
    writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: pinetd\n    static_configs:\n      - targets: ['127.0.0.1:${httpPort}']\n`);
    const prom = spawn('/usr/bin/prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let promLog = '';
    prom.stderr.setEncoding('utf8').on('data', (c: string) => (promLog += c));
    const tcp = await LineClient.connect(port);
    try {
      for (let i = 0; i < 7; i++) expect(await tcp.request('PING')).toBe('PONG');
      const query = async (q: string): Promise<string | undefined> => {
        const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = (await res.json()) as { data: { result: Array<{ value: [number, string] }> } };
        return body.data.result[0]?.value[1];
      };
      const requests = await until('pinetd_requests_total == 7 in Prometheus', async () => ((await query('pinetd_requests_total')) === '7' ? '7' : undefined), 30_000);
      expect(requests).toBe('7');
      const celsius = await query('pinetd_ds18b20_temperature_celsius{sensor="28-00000a1b2c3d",job="pinetd"}');
      expect(celsius).toBe('21.437');
      expect(await query('up{job="pinetd"}')).toBe('1');
    } catch (err) {
      throw new Error(`${(err as Error).message}\nprometheus:\n${promLog}`);
    } finally {
      tcp.close();
      prom.kill('SIGTERM');
      daemon.kill('SIGKILL');
      await new Promise((r) => prom.once('exit', r));
      await daemon.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
