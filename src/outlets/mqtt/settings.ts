/**
 * The MQTT outlet's settings, resolved once at startup from the validated Config: the URL
 * (its shape is checked by the option table), the credentials and CA read from files, the
 * topic prefix and the limits. Everything here can fail only with PINETD_E_CONFIG (exit 78),
 * and it runs before any socket is opened or the MQTT library is loaded.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Config } from '../../config/options.js';
import { readSecretFile } from '../../config/secret-file.js';
import { PinetdError } from '../../errors.js';

/** A CA bundle is a few PEM certificates; a wrong path (a disk image) must not be slurped. */
const MAX_CA_BYTES = 256 * 1024;
/** The MQTT keepalive field is 16 bits of seconds. */
const MAX_KEEPALIVE_S = 65_535;

export interface MqttSettings {
  readonly url: string;
  /** The URL without anything secret, for logs and STATUS. */
  readonly broker: string;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  readonly ca?: Buffer;
  readonly deviceId: string;
  readonly prefix: string;
  /** The Home Assistant discovery prefix, or null when discovery is off. */
  readonly discovery: string | null;
  readonly keepaliveS: number;
  readonly queueSize: number;
}

function configError(message: string, cause?: unknown): PinetdError {
  return new PinetdError('PINETD_E_CONFIG', message, cause === undefined ? undefined : { cause });
}

function readCa(path: string): Buffer {
  let ca: Buffer;
  try {
    if (statSync(path).size > MAX_CA_BYTES) throw configError(`--mqtt-ca-file ${path} is larger than ${MAX_CA_BYTES / 1024} KiB (expected PEM certificates)`);
    ca = readFileSync(path);
  } catch (err) {
    if (err instanceof PinetdError) throw err;
    throw configError(`cannot read --mqtt-ca-file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err);
  }
  if (!ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) throw configError(`--mqtt-ca-file ${path} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  return ca;
}

/** Undefined when --mqtt is not set: the outlet is off. */
export function resolveMqttSettings(config: Readonly<Config>): MqttSettings | undefined {
  if (config.mqtt === null) return undefined;
  const url = new URL(config.mqtt);
  if (config.mqttCaFile !== null && url.protocol !== 'mqtts:') throw configError(`--mqtt-ca-file needs an mqtts:// broker URL, got '${config.mqtt}'`);
  if (config.mqttPasswordFile !== null && config.mqttUsername === null) throw configError('--mqtt-password-file needs --mqtt-username (MQTT sends a password only with a user name)');
  const password = config.mqttPasswordFile === null ? undefined : readSecretFile(config.mqttPasswordFile, 'MQTT password');
  const ca = config.mqttCaFile === null ? undefined : readCa(config.mqttCaFile);
  return {
    url: config.mqtt,
    broker: `${url.protocol}//${url.host}`,
    clientId: `pinetd_${config.deviceId}`,
    ...(config.mqttUsername !== null ? { username: config.mqttUsername } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(ca !== undefined ? { ca } : {}),
    deviceId: config.deviceId,
    prefix: config.mqttPrefix ?? `pinetd/${config.deviceId}`,
    discovery: config.mqttDiscovery === 'off' ? null : config.mqttDiscovery,
    keepaliveS: Math.min(MAX_KEEPALIVE_S, Math.max(1, Math.round(config.mqttKeepalive / 1000))),
    queueSize: config.mqttQueue,
  };
}
