// Types for the `systemd-notify` npm package 1.x (it ships none). It spawns the systemd-notify(1)
// CLI with `--ready`, `--pid=`, `--status=`, `--booted`, inheriting process.env, and resolves on
// exit 0; it rejects with the spawn Error, or with the child's stderr text (a string) otherwise.
declare module 'systemd-notify' {
  import type { ChildProcess } from 'node:child_process';

  interface NotifyOptions {
    ready?: boolean;
    status?: string;
    pid?: number;
    booted?: boolean;
  }

  function notify(opts?: NotifyOptions): Promise<ChildProcess>;
  export = notify;
}
