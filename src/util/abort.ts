/**
 * Settles with `work`, or rejects with the signal's reason as soon as it fires. The work
 * itself cannot be cancelled (a kernel read in flight finishes on its own); this only stops
 * a task from waiting on it past its timeout.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
