/**
 * Home Assistant discovery on a real broker, observed with mosquitto_sub: one retained,
 * valid config per entity with unique ids and the device block, for each built-in task and
 * a module's `entities`; re-sent when Home Assistant announces itself; a new DS18B20 appears.
 */
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../../helpers/daemon.js';
import { Broker, retainedNow, Sub, type Message, brokerSuite, NO_BROKER } from './broker.js';
import { mqttDaemon, stopDaemon } from './helpers.js';

interface Config {
  name: string;
  unique_id: string;
  object_id: string;
  state_topic: string;
  value_template: string;
  availability_topic: string;
  device_class?: string;
  unit_of_measurement?: string;
  state_class?: string;
  payload_on?: string;
  payload_off?: string;
  device: { identifiers: string[]; name: string; model: string; sw_version: string };
}

let broker: Broker;
beforeAll(async () => {
  if (!NO_BROKER) broker = await Broker.start();
});
afterAll(async () => {
  await broker?.stop();
});

const configs = (sub: Sub): Map<string, Config> => new Map(sub.messages.filter((m) => m.topic.endsWith('/config')).map((m) => [m.topic, JSON.parse(m.payload) as Config]));
const of = (device: string) => (ms: readonly Message[]) => ms.filter((m) => m.topic.includes(`/${device}_`));

describe.skipIf(NO_BROKER)(brokerSuite('Home Assistant discovery'), { timeout: 20_000, concurrent: true }, () => {
  it('board: SoC temperature and 1-minute load, retained, unique, one device; re-sent on <discovery>/status online', async () => {
    const sub = new Sub(broker, ['ha-a/sensor/disc-a_soc_temp/config', 'ha-a/sensor/disc-a_load_1m/config']);
    // Its own discovery prefix, so the other tests' HA births do not re-announce it.
    const { daemon } = await mqttDaemon(broker.url, 'disc-a', ['--pause-every', '0', '--mqtt-discovery', 'ha-a']);
    try {
      await sub.until((ms) => ms.length >= 2);
      const byTopic = configs(sub);
      expect([...byTopic.keys()].sort()).toEqual(['ha-a/sensor/disc-a_load_1m/config', 'ha-a/sensor/disc-a_soc_temp/config']);
      const temp = byTopic.get('ha-a/sensor/disc-a_soc_temp/config')!;
      expect(temp).toMatchObject({ unique_id: 'pinetd_disc-a_soc_temp', object_id: 'disc-a_soc_temp', state_topic: 'pinetd/disc-a/reading', availability_topic: 'pinetd/disc-a/status', value_template: '{{ value_json.value.socTempC }}', device_class: 'temperature', unit_of_measurement: '°C', state_class: 'measurement' });
      expect(byTopic.get('ha-a/sensor/disc-a_load_1m/config')?.value_template).toBe('{{ value_json.value.loadAvg[0] }}');
      const ids = [...byTopic.values()].map((c) => c.unique_id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const c of byTopic.values()) expect(c.device).toEqual({ identifiers: ['pinetd_disc-a'], name: 'disc-a', model: 'pinetd', sw_version: expect.stringMatching(/^\d+\.\d+\.\d+/) });

      for (const topic of byTopic.keys()) expect(await retainedNow(broker, topic, 1)).toEqual([{ retained: true, topic, payload: JSON.stringify(byTopic.get(topic)) }]);

      // Home Assistant restarted: it publishes its birth, and pinetd answers with every config again.
      broker.publish('ha-a/status', 'online');
      await sub.until((ms) => ms.length >= 4);
      expect(sub.messages.slice(2).map((m) => m.topic).sort()).toEqual([...byTopic.keys()].sort());
    } finally {
      await sub.stop();
      await stopDaemon(daemon);
    }
  });

  it('ds18b20: one temperature sensor per id seen, and a new one when a sensor appears', async () => {
    const w1 = mkdtempSync(join(tmpdir(), 'pinetd-w1-'));
    cpSync(join(FIXTURES, 'w1/good'), w1, { recursive: true });
    // Its own discovery prefix: the other tests' `homeassistant/status online` would re-announce it.
    const sub = new Sub(broker, ['ha-b/sensor/+/config']);
    const { daemon } = await mqttDaemon(broker.url, 'disc-b', ['--pause-every', '150ms', '--task', 'ds18b20', '--w1-root', w1, '--mqtt-discovery', 'ha-b']);
    try {
      const first = await sub.next('ha-b/sensor/disc-b_ds18b20_28-00000a1b2c3d/config');
      expect(JSON.parse(first.payload)).toMatchObject({ value_template: "{{ value_json.value.sensors['28-00000a1b2c3d'] }}", device_class: 'temperature', unit_of_measurement: '°C', unique_id: 'pinetd_disc-b_ds18b20_28-00000a1b2c3d' });
      mkdirSync(join(w1, '28-0316a2794cff'));
      writeFileSync(join(w1, '28-0316a2794cff', 'w1_slave'), '72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n');
      await sub.next('ha-b/sensor/disc-b_ds18b20_28-0316a2794cff/config');
      // The first sensor is not announced again for every reading.
      expect(sub.on('ha-b/sensor/disc-b_ds18b20_28-00000a1b2c3d/config')).toHaveLength(1);
    } finally {
      await sub.stop();
      await stopDaemon(daemon);
    }
  });

  it('gpio-inputs: a binary_sensor per input, 1/0 payloads, the device class from the config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinetd-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ inputs: { door: { pin: 4, deviceClass: 'door' }, button: 23 } }));
    const sub = new Sub(broker, ['homeassistant/binary_sensor/+/config']);
    const { daemon } = await mqttDaemon(broker.url, 'disc-c', ['--pause-every', '0', '--task', 'gpio-inputs', '--config', join(dir, 'config.json')]);
    try {
      await sub.until((ms) => of('disc-c')(ms).length >= 2);
      const door = configs(sub).get('homeassistant/binary_sensor/disc-c_input_door/config');
      expect(door).toMatchObject({ payload_on: '1', payload_off: '0', device_class: 'door', value_template: "{{ value_json.value['door'] }}" });
      const button = configs(sub).get('homeassistant/binary_sensor/disc-c_input_button/config');
      expect(button).toMatchObject({ payload_on: '1', payload_off: '0' });
      expect(button?.device_class).toBeUndefined();
    } finally {
      await sub.stop();
      await stopDaemon(daemon);
    }
  });

  it("a task module's entities become sensors; --mqtt-discovery off publishes none", async () => {
    const sub = new Sub(broker, ['homeassistant/+/+/config', 'pinetd/disc-e/status']);
    const { daemon } = await mqttDaemon(broker.url, 'disc-d', ['--pause-every', '0', '--task', join(FIXTURES, '../outlets/mqtt/fixtures/entities-task.mjs')]);
    const off = await mqttDaemon(broker.url, 'disc-e', ['--pause-every', '0', '--mqtt-discovery', 'off']);
    try {
      await sub.until((ms) => of('disc-d')(ms).length >= 2);
      const level = configs(sub).get('homeassistant/sensor/disc-d_level/config');
      expect(level).toMatchObject({ name: 'Tank level', unit_of_measurement: 'cm', device_class: 'distance', state_class: 'measurement', value_template: '{{ value_json.value.level }}' });
      expect(configs(sub).get('homeassistant/sensor/disc-d_pumps/config')?.unit_of_measurement).toBeUndefined();
      // disc-e is online, and announced nothing.
      await sub.next('pinetd/disc-e/status', (m) => m.payload === 'online');
      broker.publish('homeassistant/status', 'online');
      await sub.until((ms) => of('disc-d')(ms).length >= 4);
      expect(of('disc-e')(sub.messages)).toEqual([]);
    } finally {
      await sub.stop();
      await stopDaemon(daemon);
      await stopDaemon(off.daemon);
    }
  });
});
