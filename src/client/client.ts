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
import { LineParser } from '../protocol/line-parser.js';

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

    socket.on('connect', () => {
      if (commands.length > 0) {
        socket.write(commands.map((c) => `${c}\n`).join(''));
        const stays = commands.some((c) => c.trim().toUpperCase() === 'SUBSCRIBE');
        if (!stays) socket.end();
        return;
      }
      // Interactive / piped: one request per stdin line, half-close at EOF.
      io.stdin.on('data', (chunk: Buffer | string) => socket.write(chunk));
      io.stdin.on('end', () => socket.end());
    });
    socket.on('data', (chunk: Buffer) => {
      const { lines, tooLong } = parser.push(chunk);
      for (const line of lines) {
        io.stdout.write(`${line}\n`);
        if (line === 'BYE') return finish(0);
        if (line === 'SHUTDOWN') {
          io.stderr.write('pinetd client: the server is shutting down\n');
          return finish(0);
        }
      }
      if (tooLong) {
        io.stderr.write(`pinetd client: response line longer than ${MAX_RESPONSE_LINE} bytes\n`);
        finish(1);
      }
    });
    socket.on('end', () => finish(0));
    socket.on('close', () => finish(0));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      io.stderr.write(`pinetd client: cannot talk to ${host}:${port}: ${err.code ?? err.message}\n`);
      finish(1);
    });
  });
}
