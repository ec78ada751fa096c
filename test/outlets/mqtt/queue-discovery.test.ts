/** The store-and-forward queue's bound, the discovery entity rules, the fleet table. */
import { describe, expect, it } from 'vitest';
import { mainValue, Fleet } from '../../../src/fleet/table.js';
import { configMessage, EntitySet, MAX_ENTITIES, moduleEntities } from '../../../src/outlets/mqtt/discovery.js';
import { ReadingQueue } from '../../../src/outlets/mqtt/queue.js';
import { buildTopics } from '../../../src/outlets/mqtt/topics.js';

const reading = (i: number) => ({ at: `t${i}`, json: `{"at":"t${i}"}` });

describe('ReadingQueue', () => {
  it('holds at most its capacity, dropping and counting the oldest', () => {
    const q = new ReadingQueue(3);
    for (let i = 0; i < 1000; i++) q.push(reading(i));
    expect(q.size).toBe(3);
    expect(q.dropped).toBe(997);
    expect(q.peek()?.at).toBe('t997');
  });

  it('never drops the reading in flight: the next oldest goes instead, and it leaves only when acknowledged', () => {
    const q = new ReadingQueue(2);
    q.push(reading(1));
    const inFlight = q.send()!;
    q.push(reading(2));
    q.push(reading(3)); // two waiting besides the one in flight: nothing dropped yet
    expect([q.size, q.dropped]).toEqual([3, 0]);
    q.push(reading(4)); // full: t2 is dropped, not t1 which the broker may already have
    expect([q.size, q.dropped]).toEqual([3, 1]);
    q.acknowledge(inFlight);
    expect(q.peek()?.at).toBe('t3');
    q.send();
    q.release(); // the connection was lost: t3 is waiting again, the oldest, so the next to go
    q.push(reading(5));
    expect([q.peek()?.at, q.size, q.dropped]).toEqual(['t4', 2, 2]);
  });

  it('with --mqtt-queue 0 keeps nothing and counts every reading dropped', () => {
    const q = new ReadingQueue(0);
    q.push(reading(1));
    expect([q.size, q.dropped]).toEqual([0, 1]);
  });
});

describe('discovery entities', () => {
  it("refuses a task module's malformed entities with exit 78 (PINETD_E_TASK_LOAD)", () => {
    for (const bad of [{}, [{ key: 'a b', name: 'x' }], [{ key: 'a', name: '' }], [{ key: 'a', name: 'x' }, { key: 'a', name: 'y' }], [{ key: 'a', name: 'x', deviceClass: 'Bad' }], Array.from({ length: 65 }, (_, i) => ({ key: `k${i}`, name: 'x' }))]) {
      expect(() => moduleEntities(bad)).toThrow(expect.objectContaining({ code: 'PINETD_E_TASK_LOAD', exitCode: 78 }));
    }
  });

  it('announces each new DS18B20 once, and stops growing at the entity bound', () => {
    const set = new EntitySet('ds18b20', []);
    expect(set.observe({ sensors: { '28-00000a1b2c3d': 21.4 } }).map((e) => e.object)).toEqual(['ds18b20_28-00000a1b2c3d']);
    expect(set.observe({ sensors: { '28-00000a1b2c3d': 21.5 } })).toEqual([]);
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`28-${i.toString(16).padStart(12, '0')}`, 20]));
    set.observe({ sensors: many });
    expect(set.all()).toHaveLength(MAX_ENTITIES);
  });

  it('builds the config message under <discovery>/<component>/<device-id>_<object>/config', () => {
    const [entity] = moduleEntities([{ key: 'level', name: 'Level', unit: 'cm' }]);
    const { topic, payload } = configMessage(entity!, buildTopics('farm/pump', 'ha'), { deviceId: 'pump', version: '1.2.3' });
    expect(topic).toBe('ha/sensor/pump_level/config');
    expect(JSON.parse(payload)).toMatchObject({ unique_id: 'pinetd_pump_level', state_topic: 'farm/pump/reading', availability_topic: 'farm/pump/status', unit_of_measurement: 'cm', state_class: 'measurement' });
  });
});

describe('fleet table', () => {
  it('shows each device with its status, version, age and headline value; ignores other topics', () => {
    const fleet = new Fleet('pinetd');
    expect(fleet.take('pinetd/a/status', 'online')).toBe(true);
    fleet.take('pinetd/a/info', '{"version":"0.1.0"}');
    fleet.take('pinetd/a/reading', JSON.stringify({ at: new Date(10_000).toISOString(), ok: true, value: { sensors: { '28-00000a1b2c3d': 21.4 } } }));
    expect(fleet.take('pinetd/a/b/c', 'x')).toBe(false);
    expect(fleet.take('other/a/status', 'online')).toBe(false);
    const table = fleet.render(75_000).split('\n');
    expect(table[1]).toMatch(/^a\s+online\s+0\.1\.0\s+65s\s+21\.4 °C \(28-00000a1b2c3d\)$/);
    expect(mainValue({ door: 1, button: 0 })).toBe('door=1 button=0');
    expect(mainValue({ socTempC: 48.2, loadAvg: [1, 0, 0] })).toBe('48.2 °C');
  });
});
