/**
 * Secrets (the auth token, the MQTT password) come from files only: a token on the command
 * line or in the environment leaks into `ps`, /proc/PID/environ and the journal. Like ssh's
 * key checks, a file that "other" may read or write is refused.
 */
import { readFileSync, statSync } from 'node:fs';
import { PinetdError } from '../errors.js';

const MAX_SECRET_BYTES = 4096;

/** The trimmed content of a secret file, or a PINETD_E_CONFIG naming the path and the fix. */
export function readSecretFile(path: string, what: string, minLength = 1): string {
  let mode: number;
  let size: number;
  try {
    ({ mode, size } = statSync(path));
  } catch (err) {
    throw new PinetdError('PINETD_E_CONFIG', `cannot read ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  if ((mode & 0o007) !== 0) {
    throw new PinetdError('PINETD_E_CONFIG', `${what} file ${path} is accessible by other users (mode ${(mode & 0o777).toString(8)}); run: chmod o-rwx ${path}`);
  }
  if (size > MAX_SECRET_BYTES) throw new PinetdError('PINETD_E_CONFIG', `${what} file ${path} is larger than ${MAX_SECRET_BYTES} bytes (expected one line)`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new PinetdError('PINETD_E_CONFIG', `cannot read ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  if (text === '') throw new PinetdError('PINETD_E_CONFIG', `${what} file ${path} is empty`);
  if (text.length < minLength) throw new PinetdError('PINETD_E_CONFIG', `${what} in ${path} is ${text.length} characters; use at least ${minLength}`);
  return text;
}
