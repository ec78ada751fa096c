/** A line-oriented TCP test client over a real socket. */
import net from 'node:net';

export class LineClient {
  readonly socket: net.Socket;
  readonly lines: string[] = [];
  raw = '';
  closed: Promise<void>;
  #partial = '';
  #waiters: Array<() => void> = [];
  #read = 0;
  #isClosed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.raw += chunk;
      this.#partial += chunk;
      const parts = this.#partial.split('\n');
      this.#partial = parts.pop() ?? '';
      this.lines.push(...parts);
      this.#wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#isClosed = true;
        this.#wake();
        resolve();
      }),
    );
  }

  /** localAddress: e.g. 127.0.0.2, a second loopback address to connect from. */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) });
      socket.once('connect', () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  send(text: string | Uint8Array): void {
    this.socket.write(text);
  }

  /** Sends one request line and returns the next line. */
  async request(line: string, timeoutMs = 3000): Promise<string> {
    this.send(`${line}\n`);
    return this.next(timeoutMs);
  }

  /** The next unread line (waits up to timeoutMs). */
  async next(timeoutMs = 3000): Promise<string> {
    const [line] = await this.take(1, timeoutMs);
    return line!;
  }

  /** The next n unread lines. */
  async take(n: number, timeoutMs = 3000): Promise<string[]> {
    const deadline = performance.now() + timeoutMs;
    while (this.lines.length - this.#read < n) {
      if (this.#isClosed) throw new Error(`connection closed after ${this.lines.length} lines: ${JSON.stringify(this.lines.slice(-5))}`);
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${n} lines; have ${JSON.stringify(this.lines.slice(this.#read))} partial ${JSON.stringify(this.#partial)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - performance.now()));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const out = this.lines.slice(this.#read, this.#read + n);
    this.#read += n;
    return out;
  }

  /** Resolves when the server closes the connection (rejects after timeoutMs). */
  async waitClosed(timeoutMs = 3000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('connection not closed by the server')), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
