/// <reference lib="dom" />
/**
 * The status page in a real headless Chromium (Debian's, driven by playwright-core; nothing
 * downloads a browser) against a real daemon: it loads clean, shows what READ says, updates
 * live, draws the LEDs and sparklines, fits a phone, and shows the shutdown countdown.
 * Screenshots go to out/test/http/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { chromium, type BrowserContext } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ASSETS, PAGE_BYTES } from '../../../src/outlets/http/page/assets.js';
import { LineClient } from '../../helpers/client.js';
import { needs, request, startHttpDaemon } from './helpers.js';

const OUT = fileURLToPath(new URL('../../../out/test/http/', import.meta.url));
const TASK = fileURLToPath(new URL('./fixtures/tank.mjs', import.meta.url));
const PAUSE_MS = 700;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('the page assets', () => {
  it('HTML, script, stylesheet and icon together stay within 30 KB', () => {
    expect(PAGE_BYTES).toBeLessThanOrEqual(30 * 1024);
  });

  it('the script is valid JavaScript and makes no request to another origin', () => {
    const js = ASSETS.get('/app.js')!.body.toString();
    expect(() => new Script(js)).not.toThrow();
    for (const a of ASSETS.values()) expect(a.body.toString()).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });
});

interface Reading {
  at: string;
  value: { runs: number; level: number };
}

const CHROMIUM = needs('/usr/bin/chromium');

describe.skipIf(!CHROMIUM.ok)(CHROMIUM.title('the status page in Chromium'), () => {
  it('loads clean, shows READ, updates live, and shows the countdown after SIGTERM', async () => {
    mkdirSync(OUT, { recursive: true });
    const dir = mkdtempSync(join(tmpdir(), 'pinetd-page-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ leds: { ready: 17, activity: 27, task: 22, error: 5 } }));
    const { daemon, port, httpPort } = await startHttpDaemon(['--config', config, '--pause-every', `${PAUSE_MS}ms`, '--shutdown-grace', '4s', '--task', TASK, '--device-id', 'greenhouse-pi']);
    const tcp = await LineClient.connect(port); // keeps the countdown running after SIGTERM
    let context: BrowserContext | undefined;
    try {
      await daemon.waitFor(() => daemon.messages('resumed').length >= 3);
      context = await chromium.launchPersistentContext(join(dir, 'profile'), { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true, viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
      page.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
      const origin = `http://127.0.0.1:${httpPort}`;
      await page.goto(`${origin}/`);
      await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'live' && document.getElementById('reading')?.dataset.at !== '');
      await page.evaluate(() => Object.assign(window, { notReloaded: true }));

      // The same reading READ returns (or, if one more landed meanwhile, that one from HISTORY).
      const read = JSON.parse(await tcp.request('READ')) as Reading;
      await page.waitForFunction((at) => (document.getElementById('reading')?.dataset.at ?? '') >= at, read.at);
      // One look at the page: the reading's id and its cells together.
      const shown = await page.evaluate(() => {
        const cell = (f: string) => document.querySelector('#reading [data-field="' + f + '"]')?.textContent;
        return { at: document.getElementById('reading')?.dataset.at ?? '', runs: cell('runs'), level: cell('level'), note: cell('note') };
      });
      const history = JSON.parse((await request(httpPort, '/api/history')).body) as Reading[];
      const expected = shown.at === read.at ? read : history.find((r) => r.at === shown.at)!;
      expect(shown).toEqual({ at: expected.at, runs: String(expected.value.runs), level: String(expected.value.level), note: '<b>not markup</b>' });
      expect(await page.textContent('#device')).toBe('greenhouse-pi');
      expect(await page.textContent('#state')).toBe('serving');
      expect(await page.textContent('#clients')).toBe('1');
      expect(await page.getAttribute('.led[data-role="ready"]', 'data-state')).toBe('on');
      expect(await page.getAttribute('.led[data-role="error"]', 'data-state')).toBe('off');

      // Live: a newer reading within two pause periods, without a reload; the sparkline grows.
      const snapshot = () =>
        page.evaluate(() => ({
          at: document.getElementById('reading')?.dataset.at ?? '',
          points: (document.querySelector('.spark[data-series="level"] polyline')?.getAttribute('points') ?? '').split(' ').length,
        }));
      const before = await snapshot();
      expect(before.points).toBeGreaterThanOrEqual(3);
      await page.waitForFunction((at) => (document.getElementById('reading')?.dataset.at ?? '') > at, before.at, { timeout: 2 * PAUSE_MS });
      expect(await page.evaluate(() => 'notReloaded' in window)).toBe(true);
      expect((await snapshot()).points).toBeGreaterThan(before.points);
      // Phone-readable: nothing wider than the screen.
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      await page.screenshot({ path: join(OUT, 'page-light.png'), fullPage: true });
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.screenshot({ path: join(OUT, 'page-dark.png'), fullPage: true });

      daemon.kill('SIGTERM');
      await page.waitForFunction(() => !document.getElementById('banner')?.hidden && document.getElementById('state')?.textContent === 'draining');
      const seconds = Number(await page.textContent('#countdown'));
      expect(seconds).toBeGreaterThanOrEqual(1);
      expect(seconds).toBeLessThanOrEqual(4);
      await page.waitForFunction((s) => Number(document.getElementById('countdown')?.textContent) < s, seconds, { timeout: 2500 });
      expect(await page.textContent('#banner')).toMatch(/^Shutting down in \d s$/);
      await page.screenshot({ path: join(OUT, 'page-draining.png'), fullPage: true });
      expect(problems).toEqual([]);

      // The daemon goes away: the page says so (and keeps trying to reconnect).
      tcp.close();
      expect((await daemon.exited).code).toBe(0);
      await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'disconnected' && !document.getElementById('offline')?.hidden);
    } finally {
      tcp.close();
      await context?.close();
      daemon.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('shows DS18B20 temperatures with units and failed sensors, and GPIO inputs in words', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinetd-page-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ inputs: { door: 4, lid: { pin: 23, activeLow: true } } }));
    const context = await chromium.launchPersistentContext(join(dir, 'profile'), { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true, viewport: { width: 390, height: 700 } });
    const runs = [
      { args: ['--task', 'ds18b20', '--w1-root', 'test/fixtures/w1/mixed'], shot: 'page-ds18b20.png' },
      { args: ['--task', 'gpio-inputs', '--config', config], shot: 'page-gpio-inputs.png' },
    ];
    try {
      const cells: Array<Record<string, string>> = [];
      for (const run of runs) {
        const { daemon, httpPort } = await startHttpDaemon(['--pause-every', '200ms', ...run.args]);
        try {
          const page = await context.newPage();
          await page.goto(`http://127.0.0.1:${httpPort}/`);
          await page.waitForFunction(() => document.getElementById('reading')?.dataset.at !== '' && document.querySelector('#reading [data-field]') !== null);
          cells.push(
            await page.evaluate(() => {
              const out: Record<string, string> = {};
              document.querySelectorAll<HTMLElement>('#reading td[data-field]').forEach((td) => (out[td.dataset.field ?? ''] = td.textContent ?? ''));
              return out;
            }),
          );
          await page.screenshot({ path: join(OUT, run.shot), fullPage: true });
          await page.close();
        } finally {
          daemon.kill('SIGKILL');
          await daemon.exited;
        }
      }
      expect(cells[0]).toEqual({ 'sensors.28-00000a1b2c3d': '21.437 \u00b0C', 'sensors.28-0316a2794cff': 'failed: crc' });
      // the mock backend's lines read logical 0 until written: both open
      expect(cells[1]).toEqual({ door: 'open', lid: 'open' });
    } finally {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
