/** Shared pieces of the MQTT daemon tests: a daemon on a broker, STATUS over TCP. */
import { LineClient } from '../../helpers/client.js';
import { DaemonProcess } from '../../helpers/daemon.js';

export interface MqttStatus {
  connected: boolean;
  queued: number;
  dropped: number;
  lastError: string | null;
}

/** A daemon on a free port with the mock backend, pointed at `url`. */
export async function mqttDaemon(url: string, deviceId: string, args: string[] = []): Promise<{ daemon: DaemonProcess; port: number }> {
  const daemon = new DaemonProcess(['--port', '0', '--gpio', 'mock', '--device-id', deviceId, '--mqtt', url, ...args]);
  const port = await daemon.ready();
  return { daemon, port };
}

export async function status(port: number): Promise<Record<string, unknown> & { mqtt: MqttStatus; pauses: number; taskFailures: number }> {
  const c = await LineClient.connect(port);
  try {
    return JSON.parse(await c.request('STATUS')) as Record<string, unknown> & { mqtt: MqttStatus; pauses: number; taskFailures: number };
  } finally {
    c.close();
  }
}

export async function stopDaemon(daemon: DaemonProcess): Promise<number | null> {
  if (daemon.proc.exitCode !== null) return daemon.proc.exitCode;
  daemon.kill('SIGTERM');
  return (await daemon.exited).code;
}

export interface ReadingPayload {
  at: string;
  ok: boolean;
  durationMs: number;
  value: unknown;
}
