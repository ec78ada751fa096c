/** The built-in hardware tasks through the real daemon process (fixture trees, mock GPIO). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { DaemonProcess, startDaemon } from '../helpers/daemon.js';

async function firstReading(port: number, daemon: DaemonProcess): Promise<unknown> {
  await daemon.waitForMsg('resumed');
  const c = await LineClient.connect(port);
  c.send('READ\n');
  const reading = JSON.parse(await c.next()) as { ok: boolean; value: unknown };
  c.close();
  expect(reading.ok).toBe(true);
  return reading.value;
}

describe.concurrent('built-in tasks in the daemon', () => {
  it('ds18b20 serves each sensor, reporting a failed one without failing the others', async () => {
    const { daemon, port } = await startDaemon(['--pause-every', '100ms', '--task', 'ds18b20', '--w1-root', 'test/fixtures/w1/mixed']);
    try {
      expect(await firstReading(port, daemon)).toEqual({ sensors: { '28-00000a1b2c3d': 21.437, '28-0316a2794cff': null }, errors: { '28-0316a2794cff': 'crc' } });
    } finally {
      daemon.kill('SIGTERM');
      expect((await daemon.exited).code).toBe(0);
    }
  });

  it('gpio-inputs reads the configured input pins', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinetd-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ inputs: { door: 4, button: { pin: 23, activeLow: true } }, leds: { ready: 17 } }));
    const { daemon, port } = await startDaemon(['--pause-every', '100ms', '--task', 'gpio-inputs', '--config', file]);
    try {
      expect(await firstReading(port, daemon)).toEqual({ door: 0, button: 0 });
    } finally {
      daemon.kill('SIGTERM');
      expect((await daemon.exited).code).toBe(0);
    }
  });

  it('gpio-inputs without inputs, or a pin used twice, is a configuration error (78)', async () => {
    const noInputs = new DaemonProcess(['--port', '0', '--gpio', 'mock', '--task', 'gpio-inputs']);
    expect((await noInputs.exited).code).toBe(78);
    expect(noInputs.stderr).toContain('the gpio-inputs task needs input pins');

    const dir = mkdtempSync(join(tmpdir(), 'pinetd-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ leds: { ready: 17 }, inputs: { door: 17 } }));
    const twice = new DaemonProcess(['--port', '0', '--gpio', 'mock', '--config', file]);
    expect((await twice.exited).code).toBe(78);
    expect(twice.stderr).toContain('BCM pin 17 is used twice');
  });
});
