/**
 * The onoff backend with the REAL onoff module (export, direction, active_low, value, unexport)
 * against a simulated sysfs tree per board, in a private mount namespace. See
 * test/helpers/sysfs-sim.ts for how the kernel side is emulated and what it cannot do.
 *
 * Needs root and util-linux `unshare`. On CI (process.env.CI) a missing prerequisite FAILS;
 * locally the suite is skipped with the reason in its title.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildSim, simPrerequisites, startSim, type Sim, type SimBuild } from '../helpers/sysfs-sim-client.js';

const pre = simPrerequisites();
const reason = pre.ok ? '' : pre.reason;

if (!pre.ok && process.env.CI) {
  it('has the prerequisites of the sysfs simulation (required on CI)', () => {
    expect.fail(`sysfs simulation cannot run: ${reason}`);
  });
}

describe.skipIf(!pre.ok)(`onoff backend on a simulated sysfs${pre.ok ? '' : ` (skipped: ${reason})`}`, () => {
  let build: SimBuild;
  let sim: Sim | undefined;
  beforeAll(async () => {
    build = await buildSim();
  });
  afterAll(() => build?.dispose());
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });
  const boot = async (board: string, options: { exportOwner?: string } = {}) => (sim = await startSim(build, board, options));

  describe.each([
    { board: 'pi4', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 },
    { board: 'pi5', label: 'pinctrl-rp1', base: 571, ngpio: 54 },
    { board: 'legacy', label: 'pinctrl-bcm2835', base: 0, ngpio: 54 },
  ])('$board: SoC chip $label', ({ board, label, base, ngpio }) => {
    const n = (bcm: number) => String(base + bcm);

    it(`exports BCM 17 as gpio${base + 17} and configures it as a dark output`, async () => {
      const s = await boot(board);
      expect(await s.call('start')).toEqual({ label, base, ngpio });
      await s.call('open', { pin: 17, direction: 'out' });
      const k = await s.kernel();
      expect(k.events).toEqual([{ type: 'export', n: base + 17 }]);
      // "low" = output at raw level 0: the LED does not flash on at startup.
      expect(k.lines[n(17)]).toEqual({ direction: 'low', activeLow: false, value: 0, level: 0 });
    });

    it('writes land in the value file and reads come back from it', async () => {
      const s = await boot(board);
      await s.call('start');
      await s.call('open', { pin: 17, direction: 'out' });
      await s.call('write', { pin: 17, value: 1 });
      expect((await s.kernel()).lines[n(17)]?.level).toBe(1);
      expect(await s.call('read', { pin: 17 })).toBe(1);
      await s.call('write', { pin: 17, value: 0 });
      expect((await s.kernel()).lines[n(17)]?.level).toBe(0);
      expect(await s.call('read', { pin: 17 })).toBe(0);
    });

    it('reads inputs from the pin level, inverted for activeLow lines', async () => {
      const s = await boot(board);
      await s.call('start');
      await s.call('open', { pin: 27, direction: 'in' });
      await s.call('open', { pin: 23, direction: 'in', activeLow: true });
      expect((await s.kernel()).lines[n(23)]).toMatchObject({ direction: 'in', activeLow: true });
      await s.call('level', { n: base + 27, level: 1 });
      await s.call('level', { n: base + 23, level: 0 }); // button pulls to GND = pressed
      expect([await s.call('read', { pin: 27 }), await s.call('read', { pin: 23 })]).toEqual([1, 1]);
      await s.call('level', { n: base + 27, level: 0 });
      await s.call('level', { n: base + 23, level: 1 });
      expect([await s.call('read', { pin: 27 }), await s.call('read', { pin: 23 })]).toEqual([0, 0]);
    });

    it('opens an activeLow output dark (direction "high") and drives the pin low for logical 1', async () => {
      const s = await boot(board);
      await s.call('start');
      await s.call('open', { pin: 22, direction: 'out', activeLow: true });
      // The kernel applies "high"/"low"/"out" as a RAW level; "out" would light an LED wired to 3V3.
      expect((await s.kernel()).lines[n(22)]).toMatchObject({ direction: 'high', activeLow: true, value: 0 });
      await s.call('write', { pin: 22, value: 1 });
      expect((await s.kernel()).lines[n(22)]).toMatchObject({ value: 1, level: 0 });
    });

    it('close() drives outputs to logical 0, unexports every line, and is idempotent', async () => {
      const s = await boot(board);
      await s.call('start');
      await s.call('open', { pin: 17, direction: 'out' });
      await s.call('open', { pin: 22, direction: 'out', activeLow: true });
      await s.call('open', { pin: 27, direction: 'in' });
      await s.call('write', { pin: 17, value: 1 });
      await s.call('write', { pin: 22, value: 1 });
      await s.call('close');
      const k = await s.kernel();
      expect(k.lines).toEqual({});
      const unexports = k.events.filter((e) => e.type === 'unexport');
      expect(unexports).toEqual(
        expect.arrayContaining([
          { type: 'unexport', n: base + 17, direction: 'low', activeLow: false, value: 0, level: 0 },
          { type: 'unexport', n: base + 22, direction: 'high', activeLow: true, value: 0, level: 1 },
          { type: 'unexport', n: base + 27, direction: 'in', activeLow: false, value: 0, level: 0 },
        ]),
      );
      expect(unexports).toHaveLength(3);
      await s.call('close');
      expect((await s.kernel()).events).toHaveLength(k.events.length);
      await expect(s.call('read', { pin: 17 })).rejects.toMatchObject({ code: 'PINETD_E_GPIO_IO' });
    });

    it(`refuses BCM ${ngpio} (past the chip's last line) before touching sysfs`, async () => {
      const s = await boot(board);
      await s.call('start');
      await expect(s.call('open', { pin: ngpio, direction: 'out' })).rejects.toMatchObject({
        code: 'PINETD_E_GPIO_PIN',
        message: expect.stringContaining(`BCM pin ${ngpio} does not exist on GPIO chip ${label}`),
      });
      expect((await s.kernel()).events).toEqual([]);
    });
  });

  it('pi5: --gpio-chip maps BCM numbers onto the chosen chip', async () => {
    const s = await boot('pi5');
    expect(await s.call('start', { chipLabel: 'gpio-brcmstb@107d517c00' })).toMatchObject({ base: 548, ngpio: 17 });
    await s.call('open', { pin: 3, direction: 'in' });
    expect((await s.kernel()).events).toEqual([{ type: 'export', n: 551 }]);
  });

  it('pi5: the pre-6.6 numbering (--gpio-base 0) is refused with the fix, not exported', async () => {
    const s = await boot('pi5');
    await expect(s.call('start', { base: 0 })).rejects.toMatchObject({
      code: 'PINETD_E_GPIO_CHIP',
      message: expect.stringMatching(/--gpio-base 0 is not a line of any GPIO chip.*pinctrl-rp1 \(base 571/),
    });
  });

  it('a user outside the gpio group: auto falls back to the mock with a warning, onoff fails with the fix', async () => {
    const s = await boot('pi4', { exportOwner: '1000:997' });
    const run = await s.child(
      [{ op: 'accessible' }, { op: 'select', mode: 'auto' }, { op: 'logs' }, { op: 'start' }, { op: 'open', pin: 17, direction: 'out' }],
      { dropCaps: true },
    );
    const [accessible, selected, logs, , open] = run.results;
    expect(accessible).toEqual({ ok: true, result: false });
    expect(selected).toEqual({ ok: true, result: 'mock' });
    const warnings = (logs?.result as { level: number; msg: string }[]).filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/using the mock backend/);
    expect(open).toMatchObject({ ok: false, error: { code: 'PINETD_E_GPIO_PERMISSION', message: expect.stringMatching(/BCM 17 \(sysfs gpio529\).*EACCES.*gpio group/) } });
    expect((await s.kernel()).events).toEqual([]);
  });

  it('lines are released from a process "exit" handler (synchronous close)', async () => {
    const s = await boot('pi4');
    const run = await s.child([
      { op: 'start' },
      { op: 'open', pin: 17, direction: 'out' },
      { op: 'open', pin: 22, direction: 'out', activeLow: true },
      { op: 'write', pin: 17, value: 1 },
      { op: 'write', pin: 22, value: 1 },
      { op: 'exitWithOpenLines' },
    ]);
    expect(run.code).toBe(0);
    expect(run.results.slice(0, 5).every((r) => r.ok)).toBe(true);
    const k = await s.kernel();
    expect(k.lines).toEqual({});
    expect(k.events.filter((e) => e.type === 'unexport')).toEqual([
      { type: 'unexport', n: 529, direction: 'low', activeLow: false, value: 0, level: 0 },
      { type: 'unexport', n: 534, direction: 'high', activeLow: true, value: 0, level: 1 },
    ]);
  });
});
