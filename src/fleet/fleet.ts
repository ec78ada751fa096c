/**
 * `pinetd fleet --mqtt URL [--mqtt-prefix-root pinetd] [--mqtt-username U --mqtt-password-file F] [--watch]`:
 * subscribes to the retained `<root>/+/status`, `+/info` and `+/reading`, prints one table
 * and exits (the broker sends retained messages right after SUBACK, so the wait is bounded:
 * 300 ms of quiet, 3 s at most). `--watch` stays connected and reprints, at most once a
 * second, until interrupted. Exit 1 when the broker cannot be reached, 78 for bad arguments.
 */
import { parseArgs } from 'node:util';
import { readSecretFile } from '../config/secret-file.js';
import { EX_CONFIG } from '../errors.js';
import { Fleet } from './table.js';
import { importModule } from '../util/import-module.js';

const CONNECT_TIMEOUT_MS = 5000;
const QUIET_MS = 300;
const MAX_WAIT_MS = 3000;
const WATCH_REPRINT_MS = 1000;

export interface FleetIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

interface FleetArgs {
  url: string;
  root: string;
  watch: boolean;
  username?: string;
  password?: string;
}

function parse(argv: string[]): FleetArgs {
  const { values } = parseArgs({
    args: argv,
    options: { mqtt: { type: 'string' }, 'mqtt-prefix-root': { type: 'string' }, 'mqtt-username': { type: 'string' }, 'mqtt-password-file': { type: 'string' }, watch: { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  const url = values.mqtt;
  if (url === undefined || !/^mqtts?:\/\/[^/@]+\/?$/.test(url)) throw new Error(`--mqtt needs mqtt://host[:port] or mqtts://host[:port], got '${url ?? ''}'`);
  const root = values['mqtt-prefix-root'] ?? 'pinetd';
  if (!/^(?=.{1,128}$)[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/.test(root)) throw new Error(`invalid value for --mqtt-prefix-root: '${root}' (expected topic levels of A-Z, a-z, 0-9, _ and -)`);
  const passwordFile = values['mqtt-password-file'];
  return {
    url,
    root,
    watch: values.watch === true,
    ...(values['mqtt-username'] !== undefined ? { username: values['mqtt-username'] } : {}),
    ...(passwordFile !== undefined ? { password: readSecretFile(passwordFile, 'MQTT password') } : {}),
  };
}

export async function runFleet(argv: string[], io: FleetIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let args: FleetArgs;
  try {
    args = parse(argv);
  } catch (err) {
    io.stderr.write(`pinetd fleet: ${(err as Error).message}\n`);
    return EX_CONFIG;
  }
  const { connect } = (await importModule('mqtt')) as typeof import('mqtt');
  const fleet = new Fleet(args.root);
  const client = connect(args.url, {
    clientId: `pinetd_fleet_${process.pid}_${Date.now().toString(36)}`,
    ...(args.username !== undefined ? { username: args.username } : {}),
    ...(args.password !== undefined ? { password: args.password } : {}),
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: args.watch ? 2000 : 0,
    connectTimeout: CONNECT_TIMEOUT_MS,
  });

  return new Promise<number>((resolve) => {
    let subscribed = false;
    let quiet: ReturnType<typeof setTimeout> | undefined;
    let reprint: ReturnType<typeof setTimeout> | undefined;
    const finish = (code: number): void => {
      clearTimeout(quiet);
      clearTimeout(reprint);
      clearTimeout(deadline);
      client.end(true);
      resolve(code);
    };
    const print = (): void => void io.stdout.write(`${fleet.render(Date.now())}\n`);
    /** `retained`: part of the broker's initial burst, which the one-shot view waits out. */
    const settle = (retained: boolean): void => {
      if (args.watch) {
        reprint ??= setTimeout(() => {
          reprint = undefined;
          io.stdout.write('\n');
          print();
        }, WATCH_REPRINT_MS);
        return;
      }
      if (!retained) return;
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        print();
        finish(0);
      }, QUIET_MS);
    };
    let deadline = setTimeout(() => {
      io.stderr.write(`pinetd fleet: cannot reach ${args.url}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s\n`);
      finish(1);
    }, CONNECT_TIMEOUT_MS);

    client.on('error', (err) => {
      if (args.watch && subscribed) return void io.stderr.write(`pinetd fleet: ${err.message}\n`);
      io.stderr.write(`pinetd fleet: cannot reach ${args.url}: ${err.message}\n`);
      finish(1);
    });
    client.on('message', (topic, payload, packet) => {
      if (fleet.take(topic, payload.toString('utf8'))) settle(packet.retain);
    });
    client.on('connect', () => {
      client.subscribe(fleet.topics, { qos: 0 }, (err) => {
        if (err) {
          io.stderr.write(`pinetd fleet: subscribe failed: ${err.message}\n`);
          return finish(1);
        }
        if (subscribed) return;
        subscribed = true;
        clearTimeout(deadline);
        if (args.watch) return print();
        // A retained burst that never goes quiet (a huge fleet) still ends.
        deadline = setTimeout(() => {
          print();
          finish(0);
        }, MAX_WAIT_MS);
        settle(true);
      });
    });
  });
}
