/**
 * The listen backlog is what the kernel reports for the socket (ss shows it as Send-Q of a
 * listening socket): 1024 by default, so a 1000-connection storm is not cut at Node's 511.
 * And such a storm is answered in full.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../../helpers/daemon.js';

function kernelBacklog(port: number): number {
  const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
  return Number(line.split(/\s+/)[2]);
}

describe('listen backlog', () => {
  it('is 1024 by default and --backlog N otherwise', async () => {
    for (const [args, expected] of [[[], 1024], [['--backlog', '300'], 300]] as const) {
      const { daemon, port } = await startDaemon(['--pause-every', '0', ...args]);
      try {
        expect(kernelBacklog(port)).toBe(expected);
      } finally {
        daemon.kill('SIGKILL');
        await daemon.exited;
      }
    }
  });

  it('answers every one of 1000 connections that arrive at once', async () => {
    const { daemon, port } = await startDaemon(['--pause-every', '0', '--max-clients', '1000', '--max-clients-per-ip', '0']);
    try {
      const answers = await Promise.all(
        Array.from({ length: 1000 }, () =>
          new Promise<string>((resolve, reject) => {
            const s = net.connect({ port, host: '127.0.0.1' }, () => s.write('PING\n'));
            let got = '';
            s.setEncoding('utf8').on('data', (d: string) => {
              got += d;
              if (got.includes('\n')) {
                s.destroy();
                resolve(got.trim());
              }
            });
            s.on('error', reject);
          }),
        ),
      );
      expect(answers.filter((a) => a === 'PONG')).toHaveLength(1000);
    } finally {
      daemon.kill('SIGKILL');
      await daemon.exited;
    }
  }, 20_000);
});
