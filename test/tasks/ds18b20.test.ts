import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, copyFileSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import ds18b20, { parseW1Slave } from '../../src/tasks/ds18b20.js';
import { DEFAULTS } from '../../src/config/options.js';
import type { TaskContext } from '../../src/tasks/types.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/w1/${name}`, import.meta.url));
const ctx = (w1Root: string, signal = new AbortController().signal): TaskContext => ({ log: pino({ level: 'silent' }), signal, config: { ...DEFAULTS, w1Root } });
const sensorError = (message: string | RegExp) => expect.objectContaining({ code: 'PINETD_E_SENSOR', message: typeof message === 'string' ? expect.stringContaining(message) : expect.stringMatching(message) });

describe('parseW1Slave', () => {
  const bytes = '57 01 4b 46 7f ff 0c 10 38';
  const text = (crc: string, t: string) => `${bytes} : crc=38 ${crc}\n${bytes} t=${t}\n`;

  it('reads millidegrees from the second line once the first says the CRC is good', () => {
    expect(parseW1Slave(text('YES', '21437'))).toEqual({ ok: true, celsius: 21.437 });
    expect(parseW1Slave(text('YES', '-10125'))).toEqual({ ok: true, celsius: -10.125 });
  });

  it('rejects a failed CRC even when a t= value is present', () => {
    expect(parseW1Slave(text('NO', '21437'))).toEqual({ ok: false, reason: 'crc' });
  });

  it('rejects 85 °C, the power-on value of a sensor that never converted', () => {
    expect(parseW1Slave(text('YES', '85000'))).toEqual({ ok: false, reason: 'power-on' });
  });

  it('accepts the datasheet range -55..125 °C and rejects anything outside', () => {
    expect(parseW1Slave(text('YES', '-55000'))).toEqual({ ok: true, celsius: -55 });
    expect(parseW1Slave(text('YES', '125000'))).toEqual({ ok: true, celsius: 125 });
    expect(parseW1Slave(text('YES', '-55001'))).toEqual({ ok: false, reason: 'range' });
    expect(parseW1Slave(text('YES', '125001'))).toEqual({ ok: false, reason: 'range' });
  });

  it('rejects nine zero bytes (valid CRC, t=0): a shorted or missing sensor, not 0 °C', () => {
    const zeros = '00 00 00 00 00 00 00 00 00';
    expect(parseW1Slave(`${zeros} : crc=00 YES\n${zeros} t=0\n`)).toEqual({ ok: false, reason: 'no-data' });
  });

  it.each([
    ['empty', ''],
    ['first line only', `${bytes} : crc=38 YES\n`],
    ['no t=', `${bytes} : crc=38 YES\n${bytes}\n`],
    ['non-numeric t', `${bytes} : crc=38 YES\n${bytes} t=abc\n`],
    ['garbled first line', `${bytes} crc=38 YES\n${bytes} t=21437\n`],
    ['eight bytes', `57 01 4b 46 7f ff 0c 10 : crc=38 YES\n${bytes} t=21437\n`],
  ])('rejects malformed text (%s) as format', (_, input) => {
    expect(parseW1Slave(input)).toEqual({ ok: false, reason: 'format' });
  });

  it('tolerates CRLF and trailing blanks', () => {
    expect(parseW1Slave(`${bytes} : crc=38 YES \r\n${bytes} t=21437\r\n`)).toEqual({ ok: true, celsius: 21.437 });
  });
});

describe('ds18b20 task on fixture trees', () => {
  it('a good sensor: celsius by id, other 1-wire families and the bus master ignored', async () => {
    expect(await ds18b20(ctx(fixture('good')))).toEqual({ sensors: { '28-00000a1b2c3d': 21.437 }, errors: {} });
  });

  it('negative temperatures', async () => {
    expect(await ds18b20(ctx(fixture('negative')))).toEqual({ sensors: { '28-00000a1b2c3d': -10.125 }, errors: {} });
  });

  it('one of two sensors failing: the other is still reported, the failure named', async () => {
    expect(await ds18b20(ctx(fixture('mixed')))).toEqual({
      sensors: { '28-00000a1b2c3d': 21.437, '28-0316a2794cff': null },
      errors: { '28-0316a2794cff': 'crc' },
    });
  });

  it.each([
    ['crc', '28-00000a1b2c3d: crc'],
    ['power-on', '28-00000a1b2c3d: power-on'],
    ['zeros', '28-00000a1b2c3d: no-data'],
    ['all-failed', '28-00000a1b2c3d: crc, 28-0316a2794cff: power-on'],
  ])('every sensor rejected (%s) fails the task with the reasons', async (name, detail) => {
    await expect(ds18b20(ctx(fixture(name)))).rejects.toEqual(sensorError(`every DS18B20 reading was rejected (${detail})`));
  });

  it('no sensor directory fails the task with the overlay hint', async () => {
    await expect(ds18b20(ctx(fixture('none')))).rejects.toEqual(sensorError(/no DS18B20 sensors under .*none \(no 28-\* devices\); enable the bus with dtoverlay=w1-gpio/));
  });

  it('a missing w1 root is the same "no sensors" failure', async () => {
    await expect(ds18b20(ctx('/nonexistent/w1'))).rejects.toEqual(sensorError('no DS18B20 sensors under /nonexistent/w1'));
  });
});

describe('ds18b20 task with reads that block like the kernel (FIFOs)', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (!dir) return;
    // Release any read still blocked in the threadpool: open a writer, then EOF.
    for (const id of ['28-00000000000a', '28-00000000000b']) {
      try {
        closeSync(openSync(join(dir, id, 'w1_slave'), constants.O_RDWR | constants.O_NONBLOCK));
      } catch {
        // not a FIFO in this test
      }
    }
    rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function fifoSensors(): string {
    dir = mkdtempSync(join(tmpdir(), 'pinetd-w1-'));
    for (const id of ['28-00000000000a', '28-00000000000b']) {
      mkdirSync(join(dir, id));
      execFileSync('mkfifo', [join(dir, id, 'w1_slave')]);
    }
    copyFileSync(join(fixture('good'), '28-00000a1b2c3d', 'w1_slave'), join(dir, 'reading'));
    return dir;
  }

  it('reads sensors concurrently without blocking the event loop', async () => {
    const root = fifoSensors();
    // Feeds B before A after a "conversion": a one-at-a-time reader would wait on A forever.
    const feeder = spawn('sh', ['-c', 'sleep 0.3; cat reading > 28-00000000000b/w1_slave; cat reading > 28-00000000000a/w1_slave'], { cwd: root });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    try {
      const result = await ds18b20(ctx(root, AbortSignal.timeout(3000)));
      expect(result).toEqual({ sensors: { '28-00000000000a': 21.437, '28-00000000000b': 21.437 }, errors: {} });
      expect(ticks).toBeGreaterThanOrEqual(10);
    } finally {
      clearInterval(ticker);
      feeder.kill();
    }
  });

  it('aborted mid-read: settles only when the blocked kernel reads have, then rejects with the abort reason', async () => {
    // The runner ends the pause at the timeout anyway; settling late keeps it "busy", so later
    // periods are skipped instead of stacking more blocking reads on libuv's thread pool.
    const root = fifoSensors();
    const ac = new AbortController();
    const reason = new Error('task timeout');
    setTimeout(() => ac.abort(reason), 50);
    const feeder = spawn('sh', ['-c', 'sleep 0.4; cat reading > 28-00000000000a/w1_slave; cat reading > 28-00000000000b/w1_slave'], { cwd: root });
    const started = Date.now();
    try {
      await expect(ds18b20(ctx(root, ac.signal))).rejects.toBe(reason);
      expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    } finally {
      feeder.kill();
    }
  });
});
