import type { Logger } from 'pino';
import type { Config } from '../config/options.js';
import type { TaskGpio } from '../gpio/types.js';

/** What a task receives. Later additions are optional so user modules keep working. */
export interface TaskContext {
  readonly log: Logger;
  /** Fires when the task outlives --task-timeout or the daemon goes away. */
  readonly signal: AbortSignal;
  /** GPIO for the pins the task declares (see the config's `inputs`). */
  readonly gpio?: TaskGpio;
  /**
   * The daemon's effective configuration (flags > environment > file > defaults, validated),
   * e.g. `w1Root`, `inputs`, `taskTimeout`. Read-only: a task cannot reconfigure the daemon.
   */
  readonly config: Readonly<Config>;
}

/** A task module's default export. Its resolved value becomes the READ value (must be JSON-serialisable). */
export type TaskFn = (ctx: TaskContext) => Promise<unknown> | unknown;
