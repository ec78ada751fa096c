/**
 * Built-in task `gpio-inputs`: reads every input line declared in the config's `inputs`
 * (opened at startup, handed over as ctx.gpio) and returns `{ "door": 0|1, ... }` with
 * logical values (activeLow applied). Lines are read concurrently.
 */
import { PinetdError } from '../errors.js';
import type { Bit } from '../gpio/types.js';
import type { TaskFn } from './types.js';
import { untilAborted } from '../util/abort.js';

const gpioInputs: TaskFn = async (ctx) => {
  const inputs = [...(ctx.gpio?.lines ?? [])].filter(([, line]) => line.direction === 'in');
  if (inputs.length === 0) {
    throw new PinetdError('PINETD_E_CONFIG', 'the gpio-inputs task has no input lines: declare them in the config, e.g. "inputs": {"door": 4}');
  }
  ctx.signal.throwIfAborted();
  const values = await untilAborted(Promise.all(inputs.map(([, line]) => line.read())), ctx.signal);
  const result: Record<string, Bit> = {};
  inputs.forEach(([name], i) => {
    result[name] = values[i] as Bit;
  });
  return result;
};

export default gpioInputs;
