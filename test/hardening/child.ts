/**
 * The real service as a child process (`node --import tsx src/main.ts`), for
 * tests that must kill it or read everything it prints. The URL comes from
 * pino's "Server listening at …" line, the demo token from the first-start
 * banner ("API token: …").
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { repoRoot } from '../support/http.js';

export interface ChildServer {
  child: ChildProcess;
  url: string;
  /** The demo organization's token, printed on the first start only. */
  token?: string;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code or signal once the process has ended. */
  exited: Promise<number | string | null>;
  kill(signal: NodeJS.Signals): void;
}

export async function startChild(env: Record<string, string>, opts: { expectBanner?: boolean } = {}, timeoutMs = 20_000): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      const found = /"msg":"Server listening at (http:\/\/[^"]+)"/.exec(out)?.[1];
      if (!found) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve(found);
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${out}`));
    });
  });
  // On a fresh store the banner is written just after the listening line.
  let token: string | undefined;
  if (opts.expectBanner) {
    const deadline = Date.now() + timeoutMs;
    while (!token && Date.now() < deadline) {
      token = /API token:\s+(\S+)/.exec(out)?.[1];
      if (!token) await new Promise((r) => setTimeout(r, 20));
    }
    if (!token) throw new Error(`no demo token banner:\n${out}`);
  }
  return { child, url, token, output: () => out, exited, kill: (signal) => void child.kill(signal) };
}

/** Stops a child started by startChild: SIGTERM, then SIGKILL if it lingers. */
export async function stopChild(server: ChildServer | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 5_000);
  await server.exited;
  clearTimeout(timer);
}
