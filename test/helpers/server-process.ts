import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OutputTail, terminate, trackChild, waitForExit } from './cleanup.js';
import type { ExitInfo } from './cleanup.js';

export { waitForExit };
export type { ExitInfo };

/** Long enough for any minimum-length check an HS256 secret might have. */
export const TEST_JWT_SECRET = 'live-chat-test-secret-do-not-use-in-production-0123456789';

const READY_LINE = /^live-chat listening on (http:\/\/[^\s]+)$/;

export interface ServerOptions {
  /** Script to run, relative to the repo root; default dist/node/server/main.js. */
  script?: string;
  /** How long to wait for the ready line; default 15 s. */
  timeoutMs?: number;
}

export interface ServerProcess {
  /** http://127.0.0.1:PORT as printed by the server. */
  readonly url: string;
  /** ws://127.0.0.1:PORT/ws/chat */
  readonly wsUrl: string;
  readonly port: number;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything written to stdout so far (last 1 MiB). */
  readonly stdout: string;
  /** Everything written to stderr so far (last 1 MiB). */
  readonly stderr: string;
  /** Settles when the process exits, however that happens. */
  readonly exited: Promise<ExitInfo>;
  /** Sends `signal` (default SIGTERM) and waits; SIGKILLs after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
  kill(): Promise<ExitInfo>;
}

let repoRoot: string | undefined;

/**
 * The compiled helper runs from build/test/helpers/ and the source from
 * test/helpers/, so the root is found by walking up to our package.json.
 */
export function findRepoRoot(): string {
  if (repoRoot) return repoRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      const { name } = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown };
      if (name === 'live-chat') return (repoRoot = dir);
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no live-chat package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function startServer(
  env: Record<string, string> = {},
  opts: ServerOptions = {},
): Promise<ServerProcess> {
  const root = findRepoRoot();
  const script = resolve(root, opts.script ?? 'dist/node/server/main.js');
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const child = spawn(process.execPath, [script], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_SECRET: TEST_JWT_SECRET,
      DATABASE_URL: 'sqlite::memory:',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);

  const out = new OutputTail(1024 * 1024);
  const err = new OutputTail(1024 * 1024);
  if (child.stdout) out.attachStream(child.stdout);
  if (child.stderr) err.attachStream(child.stderr);
  const exited = new Promise<ExitInfo>((res) => {
    child.once('exit', (code, signal) => res({ code, signal }));
  });

  return new Promise<ServerProcess>((resolveStart, rejectStart) => {
    let pending = '';
    let settled = false;
    const fail = (reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      rejectStart(
        new Error(
          `server ${script} ${reason}\n--- stderr ---\n${err.text}\n--- stdout ---\n${out.text}`,
        ),
      );
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      // Kill first so the message includes whatever it managed to print;
      // the 'close' handler below normally reports it.
      timedOut = true;
      void terminate(child, 'SIGKILL', 5_000).finally(() =>
        setTimeout(() => fail(`printed no ready line within ${timeoutMs} ms`), 1_000),
      );
    }, timeoutMs);

    const onLine = (line: string): void => {
      const match = READY_LINE.exec(line);
      if (settled || !match?.[1]) return;
      settled = true;
      clearTimeout(timer);
      const url = match[1];
      const parsed = new URL(url);
      resolveStart({
        url,
        wsUrl: `ws://${parsed.host}/ws/chat`,
        port: Number(parsed.port),
        pid: child.pid ?? -1,
        child,
        exited,
        get stdout() {
          return out.text;
        },
        get stderr() {
          return err.text;
        },
        stop: (signal: NodeJS.Signals = 'SIGTERM', ms = 10_000) => terminate(child, signal, ms),
        kill: () => terminate(child, 'SIGKILL', 5_000),
      });
    };

    child.stdout?.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        onLine(pending.slice(0, nl).replace(/\r$/, ''));
        pending = pending.slice(nl + 1);
      }
    });
    child.once('error', (e) => fail(`could not be spawned: ${e.message}`));
    // 'close' rather than 'exit': by then stderr has been fully read.
    child.once('close', (code, signal) =>
      fail(
        timedOut
          ? `printed no ready line within ${timeoutMs} ms`
          : `exited before it was ready (code ${code}, signal ${signal})`,
      ),
    );
  });
}
