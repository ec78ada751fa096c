/**
 * A real Mosquitto for the MQTT tests: its own process on a free loopback port with a
 * generated config (anonymous, or password-only via mosquitto_passwd), persistence so a
 * stop/start keeps sessions, and the real mosquitto_sub / mosquitto_pub to observe with.
 */
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const run = promisify(execFile);

/**
 * The broker tests need Mosquitto (`apt-get install mosquitto mosquitto-clients`; .ci/run
 * installs it). Without it they are skipped with the reason in their name, except under CI=true.
 */
const installed = spawnSync('mosquitto_sub', ['--help']).error === undefined && spawnSync('mosquitto', ['-h']).error === undefined;
export const NO_BROKER = !installed && process.env.CI !== 'true';
export const brokerSuite = (name: string): string => (NO_BROKER ? `${name} (skipped: mosquitto and mosquitto-clients are not installed)` : name);

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once something accepts TCP on the port (the broker is up). */
async function waitListening(port: number, proc: ChildProcess, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`mosquitto exited with ${proc.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`mosquitto not listening on ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export class Broker {
  readonly dir = mkdtempSync(join(tmpdir(), 'pinetd-mqtt-'));
  readonly port: number;
  log = '';
  #proc: ChildProcess | undefined;

  private constructor(port: number, users?: Record<string, string>) {
    this.port = port;
    chmodSync(this.dir, 0o755);
    const lines = [`listener ${port} 127.0.0.1`, 'persistence true', `persistence_location ${this.dir}/`, `user ${userInfo().username}`, 'log_type error', 'log_type warning', 'log_type notice', 'log_type information'];
    if (users) {
      const file = join(this.dir, 'passwd');
      writeFileSync(file, '');
      for (const [user, password] of Object.entries(users)) execFileSync('mosquitto_passwd', ['-b', file, user, password]);
      lines.push('allow_anonymous false', `password_file ${file}`);
    } else lines.push('allow_anonymous true');
    writeFileSync(join(this.dir, 'mosquitto.conf'), `${lines.join('\n')}\n`);
  }

  /** Starts a broker; `port` reuses a port picked earlier (a daemon may already point at it). */
  static async start(opts: { users?: Record<string, string>; port?: number } = {}): Promise<Broker> {
    const broker = new Broker(opts.port ?? (await freePort()), opts.users);
    await broker.resume();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the process on the same port, with the persisted sessions and retained messages. */
  async resume(): Promise<void> {
    const proc = spawn('mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => (this.log += c));
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => (this.log += c));
    this.#proc = proc;
    await waitListening(this.port, proc);
  }

  /** Stops the broker (SIGTERM: it saves its database) and waits for the process to end. */
  async stop(): Promise<void> {
    const proc = this.#proc;
    this.#proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
  }

  publish(topic: string, payload: string, retain = false): void {
    execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(this.port), '-q', '1', '-t', topic, '-m', payload, ...(retain ? ['-r'] : [])]);
  }
}

export interface Message {
  readonly retained: boolean;
  readonly topic: string;
  readonly payload: string;
}

/** The real mosquitto_sub, one message per line: retain flag, topic, payload. */
export class Sub {
  readonly messages: Message[] = [];
  readonly proc: ChildProcess;
  #partial = '';
  #waiters: Array<() => void> = [];

  /** `session`: a persistent QoS 1 session (-c -i), so messages sent while it reconnects are kept. */
  constructor(broker: Broker, topics: string[], opts: { session?: string; extra?: string[] } = {}) {
    const session = opts.session ? ['-c', '-i', opts.session, '-q', '1'] : [];
    this.proc = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.port), ...session, ...(opts.extra ?? []), '-F', '%r\t%t\t%p', ...topics.flatMap((t) => ['-t', t])], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop() ?? '';
      for (const line of parts) {
        const [flag = '', topic = '', ...rest] = line.split('\t');
        this.messages.push({ retained: flag === '1', topic, payload: rest.join('\t') });
      }
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    });
  }

  on(topic: string): Message[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  /** Waits until `ready()` holds over the messages so far; fails after timeoutMs with what arrived. */
  async until(ready: (messages: Message[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!ready(this.messages)) {
      if (performance.now() > deadline) throw new Error(`messages not seen; got:\n${this.messages.map((m) => `${m.retained ? 'R' : '-'} ${m.topic} ${m.payload.slice(0, 120)}`).join('\n')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - performance.now()));
        this.#waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  /** Resolves with the first message on `topic` matching, seen from now on or already. */
  async next(topic: string, match: (m: Message) => boolean = () => true, timeoutMs?: number): Promise<Message> {
    await this.until((ms) => ms.some((m) => m.topic === topic && match(m)), timeoutMs);
    return this.messages.find((m) => m.topic === topic && match(m))!;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGTERM');
    await exited;
  }
}

/** A fresh mosquitto_sub: the first `count` retained messages on `topic` right now. */
export async function retainedNow(broker: Broker, topic: string, count: number): Promise<Message[]> {
  const { stdout } = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.port), '-t', topic, '-C', String(count), '-W', '5', '-F', '%r\t%t\t%p']);
  return stdout.split('\n').filter(Boolean).map((line) => {
    const [flag = '', t = '', ...rest] = line.split('\t');
    return { retained: flag === '1', topic: t, payload: rest.join('\t') };
  });
}
