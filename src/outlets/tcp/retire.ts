/**
 * The one way a socket is ended from our side — a refused newcomer (`ERR busy`, `ERR
 * forbidden`, `SHUTDOWN`) and an admitted connection we close (QUIT, idle timeout, a fatal
 * protocol error) alike. Two modes:
 *
 * - `fatal` (line-too-long, line-timeout, busy, forbidden, auth failures): the peer is
 *   misbehaving or unwanted. Reading stops at once (a paused stream still buffers one read;
 *   TCP flow control holds the rest back, not our CPU), the last line is written, and the
 *   socket is destroyed as soon as that line has been handed to the kernel, or after
 *   FATAL_DEADLINE_MS if the peer does not take it.
 * - `graceful` (QUIT, idle timeout, SHUTDOWN, the peer's own FIN): input is read and discarded
 *   so the peer's FIN is seen and closing never turns into an RST over unread data (which
 *   could make the peer's kernel throw away our last line) — but at most DISCARD_LIMIT bytes.
 *   A peer that never reads or never closes would keep the socket forever, so it is destroyed
 *   once a flush interval passes without progress; a slow but reading peer gets all its data.
 */
import type { Socket } from 'node:net';
import type { TimerHandle, Timers } from '../../util/timers.js';

/** How long a retiring socket may go without flushing a byte before it is destroyed. */
export const FLUSH_DEADLINE_MS = 2000;
/** How long a fatally ended socket may take to take its last line. */
export const FATAL_DEADLINE_MS = 1000;
/** Input a gracefully retiring socket reads and throws away before it is destroyed. */
export const DISCARD_LIMIT = 64 * 1024;

export type RetireMode = 'graceful' | 'fatal';

export function retire(socket: Socket, timers: Timers, lastText?: string, mode: RetireMode = 'graceful'): void {
  socket.removeAllListeners('data');
  if (mode === 'fatal') retireFatal(socket, timers, lastText);
  else retireGraceful(socket, timers, lastText);
}

function retireFatal(socket: Socket, timers: Timers, lastText: string | undefined): void {
  socket.pause();
  const timer = timers.setTimeout(() => socket.destroy(), FATAL_DEADLINE_MS);
  timer.unref();
  socket.once('close', () => timers.clearTimeout(timer));
  // 'finish': everything we wrote, the last line included, is in the kernel's hands.
  socket.once('finish', () => socket.destroy());
  if (lastText !== undefined) socket.end(lastText);
  else socket.end();
}

function retireGraceful(socket: Socket, timers: Timers, lastText: string | undefined): void {
  // The peer's FIN is in and everything we wrote is with the kernel (a client that sent its
  // requests and closed): no input can come to discard, nothing is left to flush. Ending is
  // all; the socket closes once our FIN is out. The common close, so the cheap one.
  if (socket.readableEnded && lastText === undefined && socket.writableLength === 0) {
    socket.end();
    return;
  }
  let discarded = 0;
  socket.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT) socket.destroy();
  });
  socket.resume();
  if (lastText !== undefined) socket.end(lastText);
  else socket.end();
  let written = socket.bytesWritten;
  let timer: TimerHandle | undefined;
  const check = (): void => {
    if (socket.writableLength > 0 && socket.bytesWritten > written) {
      written = socket.bytesWritten;
      arm();
      return;
    }
    socket.destroy();
  };
  const arm = (): void => {
    timer = timers.setTimeout(check, FLUSH_DEADLINE_MS);
    timer.unref();
  };
  arm();
  socket.once('close', () => timers.clearTimeout(timer));
}
