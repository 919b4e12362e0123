import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(REPO, 'bin', 'mailtrail.js');

export const freePort = (host = '127.0.0.1'): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

export const waitForPort = async (
  port: number,
  host = '127.0.0.1',
  timeoutMs = 20_000,
): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** Runs `mailtrail serve` as its own process, as an operator would. */
export const spawnRelay = (
  configPath: string,
  /** Collects the relay's log lines (stdout) here instead of dropping them. */
  logLines?: string[],
): ChildProcess => {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath], {
    cwd: REPO,
    stdio: ['ignore', logLines ? 'pipe' : 'ignore', 'pipe'],
  });
  let partial = '';
  child.stdout?.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    logLines?.push(...lines.filter((l) => l !== ''));
  });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[relay] ${d}`));
  return child;
};

export const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
