/**
 * `pinetd client [--host H] [--port P] [COMMAND ...]`: sends each command (or each stdin
 * line), prints every response line, and exits 0 on BYE, on SHUTDOWN, or when the server
 * closes. Exit 1 when it cannot connect, 78 for bad arguments.
 *
 * Commands are followed by a half-close, so the server answers them all and then closes;
 * with SUBSCRIBE the connection stays open for the pushed READING lines until interrupted.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { EX_CONFIG } from '../errors.js';
import { INVALID_UTF8, LineParser, TOO_LONG } from '../protocol/line-parser.js';

const MAX_RESPONSE_LINE = 1024 * 1024;

export interface ClientIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Readonly<Record<string, string | undefined>>;
}

export async function runClient(argv: string[], io: ClientIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  let host: string;
  let port: number;
  let commands: string[];
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { host: { type: 'string' }, port: { type: 'string' } }, allowPositionals: true, strict: true });
    host = values.host ?? io.env.PINETD_HOST ?? '127.0.0.1';
    const rawPort = values.port ?? io.env.PINETD_PORT ?? '9999';
    port = Number(rawPort);
    if (!/^\d+$/.test(rawPort) || port < 1 || port > 65535) throw new Error(`invalid value for --port: '${rawPort}' (expected an integer from 1 to 65535)`);
    commands = positionals;
  } catch (err) {
    io.stderr.write(`pinetd client: ${(err as Error).message}\n`);
    return EX_CONFIG;
  }

  return new Promise<number>((resolve) => {
    const socket = net.connect({ host, port });
    const parser = new LineParser(MAX_RESPONSE_LINE);
    let settled = false;
    const finish = (code: number): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (io.stdin === process.stdin) process.stdin.pause();
      resolve(code);
    };

    // Verbs sent and not yet answered, so a response that happens to read `BYE` or
    // `SHUTDOWN` (ECHO BYE, GET of such a value) is printed, not taken as a control line.
    const pending: string[] = [];
    const track = (line: string): void => {
      pending.push(line.trimStart().split(' ', 1)[0]!.toUpperCase());
    };
    const stdinLines = new LineParser(MAX_RESPONSE_LINE);
    /** Each complete stdin line is one request (the server answers a non-UTF-8 one with an error). */
    const trackAll = (): void => {
      for (let l = stdinLines.next(); l !== undefined; l = stdinLines.next()) track(typeof l === 'string' ? l : '');
    };

    socket.on('connect', () => {
      if (commands.length > 0) {
        for (const c of commands) track(c);
        socket.write(commands.map((c) => `${c}\n`).join(''));
        const stays = commands.some((c) => c.trim().toUpperCase() === 'SUBSCRIBE');
        if (!stays) socket.end();
        return;
      }
      // Interactive / piped: one request per stdin line, half-close at EOF.
      io.stdin.on('data', (chunk: Buffer | string) => {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        stdinLines.push(bytes);
        trackAll();
        // Backpressure: a big file piped in while the server is paused must not pile up here.
        if (!socket.write(bytes)) {
          io.stdin.pause();
          socket.once('drain', () => io.stdin.resume());
        }
      });
      io.stdin.on('end', () => {
        stdinLines.end();
        trackAll();
        socket.end();
      });
    });
    const onLine = (line: string): boolean => {
      io.stdout.write(`${line}\n`);
      const verb = pending[0];
      // Only these answers carry the client's own text, so only they can look like a notice.
      const carriesData = verb === 'ECHO' || verb === 'GET';
      if (line === 'SHUTDOWN' && !carriesData) {
        io.stderr.write('pinetd client: the server is shutting down\n');
        finish(0);
        return false;
      }
      if (line.startsWith('READING ') && !carriesData) return true; // a push
      pending.shift();
      if (verb === 'QUIT' && line === 'BYE') {
        finish(0);
        return false;
      }
      return true;
    };
    /** Shows every complete response line; false once the client is done. */
    const onLines = (): boolean => {
      for (let l = parser.next(); l !== undefined; l = parser.next()) {
        if (l === TOO_LONG) {
          io.stderr.write(`pinetd client: response line longer than ${MAX_RESPONSE_LINE} bytes\n`);
          finish(1);
          return false;
        }
        if (!onLine(l === INVALID_UTF8 ? '(response is not valid UTF-8)' : l)) return false;
      }
      return true;
    };
    socket.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      onLines();
    });
    socket.on('end', () => {
      // An unterminated last line (echo mode, or a notice without newline) is still shown.
      parser.end();
      if (onLines()) finish(0);
    });
    socket.on('close', () => finish(0));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      io.stderr.write(`pinetd client: cannot talk to ${host}:${port}: ${err.code ?? err.message}\n`);
      finish(1);
    });
  });
}
