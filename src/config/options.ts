/**
 * The option table: one definition per option drives the flag parser, the environment and
 * config-file readers, validation, `--help` and `--print-config`, so they cannot disagree.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { parseCidrs } from '../net/access.js';
import { parseDuration } from './duration.js';

export type GpioMode = 'auto' | 'onoff' | 'mock';
export type Protocol = 'lines' | 'echo';

/** The effective configuration. Durations are milliseconds. */
export interface Config {
  host: string;
  port: number;
  protocol: Protocol;
  pauseEvery: number;
  task: string;
  taskTimeout: number;
  shutdownGrace: number;
  maxClients: number;
  backlog: number;
  /** CIDRs allowed to connect (TCP and HTTP); empty = everyone. */
  allow: string[];
  maxClientsPerIp: number;
  /** A file holding the AUTH token (never the token itself: flags and env leak into ps and the journal). */
  authTokenFile: string | null;
  /** `on`: listening beyond loopback with neither --allow nor a token, only loopback peers may write. */
  protectedMode: 'on' | 'off';
  maxLine: number;
  /** A request line must be complete this long after its first byte; 0 = no limit. */
  lineTimeout: number;
  idleTimeout: number;
  history: number;
  /** Where the store and history are saved; null = in memory only. */
  stateDir: string | null;
  /** At most one store write per this interval. */
  storeFlush: number;
  logLevel: string;
  /** Names this board to MQTT, the status page and metrics; default: the hostname, reduced. */
  deviceId: string;
  gpio: GpioMode;
  gpioChip: string | null;
  gpioBase: number | null;
  w1Root: string;
  config: string | null;
  /** Hardware maps, config file only (validated by src/gpio/pins.ts). */
  leds: Record<string, unknown>;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  /** The HTTP outlet's address (status page, /metrics, /events); null = off, nothing loaded. */
  http: HttpAddress | null;
  httpMaxClients: number;
  /** MQTT outlet (src/outlets/mqtt/): off while `mqtt` is null. */
  mqtt: string | null;
  mqttUsername: string | null;
  mqttPasswordFile: string | null;
  mqttCaFile: string | null;
  /** null: `pinetd/<deviceId>`. */
  mqttPrefix: string | null;
  /** Home Assistant discovery prefix, or `off`. */
  mqttDiscovery: string;
  mqttKeepalive: number;
  mqttQueue: number;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };

export interface OptionDef {
  /** camelCase: the config-file key and the Config field. */
  readonly key: keyof Config;
  readonly flag: string;
  readonly env: string;
  readonly arg: string;
  readonly describe: string;
  readonly fileOnly?: boolean;
  readonly parse: (raw: unknown) => Parsed<unknown>;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function int(min: number, max: number, what = `an integer from ${min} to ${max}`) {
  return (raw: unknown): Parsed<number> => {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
    return Number.isInteger(n) && n >= min && n <= max ? { ok: true, value: n } : { ok: false, expected: what };
  };
}

function duration(minMs: number, zero: 'allowed' | 'forbidden', hint: string) {
  const expected = `a duration like 250ms, 5s or 2m (a bare number means seconds)${hint}`;
  return (raw: unknown): Parsed<number> => {
    if (typeof raw !== 'string' && typeof raw !== 'number') return { ok: false, expected };
    const ms = parseDuration(raw);
    if (ms === undefined) return { ok: false, expected };
    if (ms === 0) return zero === 'allowed' ? { ok: true, value: 0 } : { ok: false, expected };
    return ms >= minMs ? { ok: true, value: ms } : { ok: false, expected };
  };
}

function oneOf<T extends string>(choices: readonly T[]) {
  return (raw: unknown): Parsed<T> =>
    typeof raw === 'string' && (choices as readonly string[]).includes(raw)
      ? { ok: true, value: raw as T }
      : { ok: false, expected: `one of ${choices.join(', ')}` };
}

function text(what: string) {
  return (raw: unknown): Parsed<string> =>
    typeof raw === 'string' && raw.trim() !== '' && raw.length <= 4096 ? { ok: true, value: raw } : { ok: false, expected: what };
}

/** An IP address or a DNS name (RFC 1123 labels): a typo must be exit 78, not a restart loop. */
function host(raw: unknown): Parsed<string> {
  const expected = 'an IP address such as 127.0.0.1, 0.0.0.0 or ::, or a host name';
  if (typeof raw !== 'string') return { ok: false, expected };
  const name = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
  return isIP(raw) !== 0 || name.test(raw) ? { ok: true, value: raw } : { ok: false, expected };
}

/** `--allow 192.168.1.0/24,fd00::/8,127.0.0.1`, or a JSON array of the same in the file. */
function cidrList(raw: unknown): Parsed<string[]> {
  const expected = 'comma-separated IPv4/IPv6 addresses or CIDRs, e.g. 192.168.1.0/24,fd00::/8,127.0.0.1';
  const text = Array.isArray(raw) && raw.every((x) => typeof x === 'string') ? raw.join(',') : typeof raw === 'string' ? raw : undefined;
  if (text === undefined || text.length > 65_536) return { ok: false, expected };
  const parsed = parseCidrs(text);
  return parsed.ok ? { ok: true, value: parsed.entries } : { ok: false, expected: `${expected}; '${parsed.entry}' is not one` };
}

function deviceIdOption(raw: unknown): Parsed<string> {
  return typeof raw === 'string' && /^[a-z0-9_-]{1,64}$/.test(raw) ? { ok: true, value: raw } : { ok: false, expected: '1-64 characters of a-z, 0-9, _ and -' };
}

/** The hostname, lowercased, reduced to [a-z0-9_-] (an MQTT topic level and an HA object id). */
export function defaultDeviceId(host = hostname()): string {
  const id = host.toLowerCase().replace(/\..*$/, '').replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
  return id === '' ? 'pinetd' : id;
}

function nullable<T>(inner: (raw: unknown) => Parsed<T>) {
  return (raw: unknown): Parsed<T | null> => (raw === null ? { ok: true, value: null } : inner(raw));
}

function object(raw: unknown): Parsed<Record<string, unknown>> {
  return raw !== null && typeof raw === 'object' && !Array.isArray(raw)
    ? { ok: true, value: raw as Record<string, unknown> }
    : { ok: false, expected: 'a JSON object' };
}

function def(key: keyof Config, arg: string, describe: string, parse: OptionDef['parse'], fileOnly = false): OptionDef {
  const kebab = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return { key, flag: `--${kebab}`, env: `PINETD_${kebab.replace(/-/g, '_').toUpperCase()}`, arg, describe, parse, fileOnly };
}

export const OPTIONS: readonly OptionDef[] = [
  def('host', 'ADDR', 'address to listen on', host),
  def('port', 'N', 'TCP port; 0 picks a free port (the real one is logged)', int(0, 65535)),
  def('protocol', 'NAME', '`lines` (command protocol) or `echo` (bytes back verbatim)', oneOf<Protocol>(['lines', 'echo'])),
  def('pauseEvery', 'DURATION', 'period of the pause cycle; 0 disables it', duration(50, 'allowed', ', 0 to disable, otherwise at least 50ms')),
  def('task', 'NAME|PATH', 'built-in task (board, gpio-inputs, ds18b20) or path to a task module', text('a built-in task name or a module path')),
  def('taskTimeout', 'DURATION', 'a task running longer is abandoned (its AbortSignal fires)', duration(1, 'forbidden', ', greater than 0')),
  def('shutdownGrace', 'DURATION', 'countdown after the first shutdown signal', duration(0, 'allowed', '')),
  def('maxClients', 'N', 'connections beyond this get `ERR busy` and are closed', int(1, 10000)),
  def('backlog', 'N', 'listen backlog: connections the kernel queues before they are accepted (capped by net.core.somaxconn)', int(1, 65535)),
  def('allow', 'CIDR[,CIDR...]', 'only these addresses may connect (TCP and HTTP); others get `ERR forbidden`; empty = all', cidrList),
  def('maxClientsPerIp', 'N', 'concurrent connections per remote address; the next gets `ERR busy`; 0 = no cap', int(0, 10000)),
  def('authTokenFile', 'FILE', 'file holding the token clients must send with AUTH (>= 16 characters; not readable by others)', nullable(text('a file path'))),
  def('protectedMode', 'on|off', 'on: listening beyond loopback with neither --allow nor a token, SET/DEL from other hosts get `ERR protected`', oneOf<'on' | 'off'>(['on', 'off'])),
  def('maxLine', 'BYTES', 'longest request line; longer gets `ERR line-too-long` and a close', int(16, 1_048_576)),
  def('lineTimeout', 'DURATION', 'a request line must be complete this long after its first byte, else `ERR line-timeout` and a close; 0 disables', duration(1, 'allowed', '')),
  def('idleTimeout', 'DURATION', 'a client silent this long is closed; 0 disables', duration(1, 'allowed', '')),
  def('history', 'N', 'successful readings kept for HISTORY (8 MiB at most; 0 disables)', int(0, 100_000)),
  def('stateDir', 'DIR', 'save the key-value store and the reading history here (kv.json, history.json); default: in memory only', nullable(text('a directory path'))),
  def('storeFlush', 'DURATION', 'with --state-dir: at most one store write per this interval (SET answers OK before it)', duration(10, 'forbidden', ', at least 10ms')),
  def('logLevel', 'LEVEL', 'pino level', oneOf(LOG_LEVELS)),
  def('deviceId', 'ID', 'this board\'s name for MQTT topics, the status page and metrics ([a-z0-9_-], default: the hostname)', deviceIdOption),
  def('gpio', 'MODE', 'GPIO backend: auto (onoff where usable, else mock), onoff or mock', oneOf<GpioMode>(['auto', 'onoff', 'mock'])),
  def('gpioChip', 'LABEL', 'label of the GPIO chip whose base maps BCM numbers (default: the Pi SoC chip)', nullable(text('a gpiochip label such as pinctrl-rp1'))),
  def('gpioBase', 'N', 'sysfs number of BCM 0, overriding the chip lookup', nullable(int(0, 8192))),
  def('w1Root', 'DIR', '1-wire devices directory read by the ds18b20 task', text('a directory path')),
  def('config', 'FILE', 'JSON config file (keys are the camelCase option names)', nullable(text('a file path'))),
  def('leds', '{role: pin}', 'status LEDs by role: ready, activity, task, error', object, true),
  def('inputs', '{name: pin}', 'input pins read by the gpio-inputs task (ctx.gpio)', object, true),
  def('outputs', '{name: pin}', 'output pins handed to a task module (ctx.gpio)', object, true),
  // HTTP outlet (src/outlets/http/)
  def('http', 'HOST:PORT|off', 'HTTP status page, /metrics, /healthz and /events; off = not loaded', httpAddress),
  def('httpMaxClients', 'N', 'HTTP connections beyond this get 503 and are closed', int(1, 1000)),
  // MQTT outlet (src/outlets/mqtt/): off unless --mqtt is set.
  def('mqtt', 'URL', 'publish readings to this MQTT broker: mqtt://host[:1883] or mqtts://host[:8883] (default: off)', nullable(mqttUrl)),
  def('mqttUsername', 'NAME', 'MQTT user name', nullable(text('a user name'))),
  def('mqttPasswordFile', 'FILE', 'file holding the MQTT password (not readable by other users)', nullable(text('a file path'))),
  def('mqttCaFile', 'FILE', 'PEM CA certificate(s) to verify an mqtts:// broker', nullable(text('a file path'))),
  def('mqttPrefix', 'TOPIC', 'topic prefix (default: pinetd/<device-id>)', nullable(mqttTopic)),
  def('mqttDiscovery', 'PREFIX|off', 'Home Assistant discovery prefix, or off', mqttTopic),
  def('mqttKeepalive', 'DURATION', 'MQTT keepalive; the broker publishes the offline will after 1.5 times this', duration(1000, 'forbidden', ', from 1s')),
  def('mqttQueue', 'N', 'readings held while the broker is away (oldest dropped first)', int(0, 100_000)),
];

/** Only mqtt:// and mqtts://, a host, an optional port, no credentials (those come from files) and no path. */
function mqttUrl(raw: unknown): Parsed<string> {
  const expected = 'mqtt://host[:port] or mqtts://host[:port], without user, password or path';
  if (typeof raw !== 'string' || raw.length > 1024) return { ok: false, expected };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, expected };
  }
  const plain = (url.pathname === '' || url.pathname === '/') && url.search === '' && url.hash === '' && url.username === '' && url.password === '';
  return (url.protocol === 'mqtt:' || url.protocol === 'mqtts:') && url.hostname !== '' && plain ? { ok: true, value: raw } : { ok: false, expected };
}

/** A topic prefix: levels of [A-Za-z0-9_-], no wildcards, at most 128 characters. */
function mqttTopic(raw: unknown): Parsed<string> {
  return typeof raw === 'string' && /^(?=.{1,128}$)[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/.test(raw)
    ? { ok: true, value: raw }
    : { ok: false, expected: 'topic levels of A-Z, a-z, 0-9, _ and - separated by /, at most 128 characters' };
}

export const DEFAULTS: Readonly<Config> = {
  host: '127.0.0.1',
  port: 9999,
  protocol: 'lines',
  pauseEvery: 5000,
  task: 'board',
  taskTimeout: 2000,
  shutdownGrace: 5000,
  maxClients: 100,
  backlog: 1024,
  allow: [],
  maxClientsPerIp: 16,
  authTokenFile: null,
  protectedMode: 'on',
  maxLine: 4096,
  lineTimeout: 30_000,
  idleTimeout: 300_000,
  history: 720,
  stateDir: null,
  storeFlush: 1000,
  logLevel: 'info',
  deviceId: defaultDeviceId(),
  gpio: 'auto',
  gpioChip: null,
  gpioBase: null,
  w1Root: '/sys/bus/w1/devices',
  config: null,
  leds: {},
  inputs: {},
  outputs: {},
  http: null,
  httpMaxClients: 32,
  mqtt: null,
  mqttUsername: null,
  mqttPasswordFile: null,
  mqttCaFile: null,
  mqttPrefix: null,
  mqttDiscovery: 'homeassistant',
  mqttKeepalive: 30_000,
  mqttQueue: 1000,
};

export const DURATION_KEYS: ReadonlySet<keyof Config> = new Set(['pauseEvery', 'taskTimeout', 'shutdownGrace', 'lineTimeout', 'idleTimeout', 'storeFlush', 'mqttKeepalive']);

// --- the HTTP outlet's option (src/outlets/http/) ---

export interface HttpAddress {
  readonly host: string;
  readonly port: number;
}

/** `HOST:PORT` (`[::1]:9998` for IPv6) or `off`. */
function httpAddress(raw: unknown): Parsed<HttpAddress | null> {
  const expected = 'HOST:PORT such as 127.0.0.1:9998, 0.0.0.0:9998 or [::1]:9998 (port 0 picks a free port), or off';
  if (raw === null || raw === 'off') return { ok: true, value: null };
  // --print-config shows {host, port}: accept it back from a config file.
  if (typeof raw === 'object' && 'host' in raw && 'port' in raw && typeof raw.host === 'string' && typeof raw.port === 'number') raw = raw.host.includes(':') ? `[${raw.host}]:${raw.port}` : `${raw.host}:${raw.port}`;
  const m = typeof raw === 'string' ? /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(raw) : null;
  const address = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (address === undefined || !(port <= 65535) || (m?.[1] !== undefined && isIP(address) !== 6)) return { ok: false, expected };
  const parsed = host(address);
  return parsed.ok ? { ok: true, value: { host: parsed.value, port } } : { ok: false, expected };
}
