/**
 * The one way a socket is ended from our side — a refused newcomer (`ERR busy`, `SHUTDOWN`)
 * and an admitted connection we close (QUIT, idle timeout, line too long) alike.
 *
 * Input is read and discarded from here on, so the peer's FIN is seen and the socket closes
 * promptly instead of lingering half-open, and closing never turns into an RST over unread
 * data (which could make the peer's kernel throw away our last line). A peer that never reads
 * or never closes would keep the socket forever, so it is destroyed once a flush interval
 * passes without progress; a slow but reading peer gets all its data.
 */
import type { Socket } from 'node:net';
import type { TimerHandle, Timers } from '../../util/timers.js';

/** How long a retiring socket may go without flushing a byte before it is destroyed. */
export const FLUSH_DEADLINE_MS = 2000;

export function retire(socket: Socket, timers: Timers, lastText?: string): void {
  socket.removeAllListeners('data');
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
