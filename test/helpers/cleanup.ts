// Process/temp-dir registry shared by every test helper.
//
// Tests are expected to call stop()/destroy() in after hooks, but a thrown
// assertion, a timeout or a forgotten hook must never leave a redis, postgres
// or server process running after the test file exits. The 'exit' handler is
// the last chance and only synchronous work runs there, hence SIGKILL and
// rmSync.
import { rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let installed = false;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function cleanupSync(): void {
  for (const child of children) {
    if (isRunning(child)) {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already gone; nothing left to do.
      }
    }
  }
  children.clear();
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort: a leftover temp dir is harmless, a throw here is not.
    }
  }
  dirs.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupSync);
  // 'exit' does not fire when the process dies from a signal (Ctrl-C, the
  // test runner cancelling a file), so clean up and then re-raise the signal
  // once our listener is gone, keeping the conventional exit status.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanupSync();
      process.kill(process.pid, sig);
    });
  }
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

export function trackChild(child: ChildProcess): void {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function trackDir(dir: string): void {
  install();
  dirs.add(dir);
}

export function untrackDir(dir: string): void {
  dirs.delete(dir);
}

/**
 * Resolves once `child` has exited (immediately if it already has); rejects
 * if that takes longer than `ms`. The child is left alone on timeout so the
 * caller decides whether to escalate.
 */
export function waitForExit(child: ChildProcess, ms: number): Promise<ExitInfo> {
  if (!isRunning(child)) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise<ExitInfo>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      reject(new Error(`process ${child.pid} did not exit within ${ms} ms`));
    }, ms);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      resolve({ code, signal });
    };
    child.once('exit', onExit);
  });
}

/**
 * Sends `signal`, waits up to `ms`, then SIGKILLs so a wedged process cannot
 * hang a test suite's teardown.
 */
export async function terminate(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  ms = 10_000,
): Promise<ExitInfo> {
  if (!isRunning(child)) return waitForExit(child, 0);
  child.kill(signal);
  try {
    return await waitForExit(child, ms);
  } catch {
    child.kill('SIGKILL');
    return waitForExit(child, 5_000);
  }
}

/** A service's process as a helper started it: the child, and the tail of what it printed. */
export interface Running {
  child: ChildProcess;
  tail: OutputTail;
}

/** The one process of a service (Redis, PostgreSQL) at a time, stopped, killed and started again on the same port and folder. */
export class ServiceProcess {
  constructor(
    private current: Running | undefined,
    private readonly launch: () => Promise<Running>,
    private readonly stopWithinMs: number,
  ) {}

  get pid(): number {
    return this.current?.child.pid ?? -1;
  }

  get output(): string {
    return this.current?.tail.text ?? '';
  }

  async halt(signal: NodeJS.Signals): Promise<void> {
    if (this.current) await terminate(this.current.child, signal, this.stopWithinMs);
    this.current = undefined;
  }

  /** Starts it again unless it runs. */
  async start(): Promise<void> {
    this.current ??= await this.launch();
  }
}

/**
 * Keeps the tail of a child's output for error messages; capped so a chatty
 * long-lived process cannot grow memory without bound.
 */
export class OutputTail {
  #text = '';
  #closed = false;
  readonly #max: number;

  constructor(max = 64 * 1024) {
    this.#max = max;
  }

  /** Captures both stdout and stderr of `child`, interleaved. */
  attach(child: ChildProcess): this {
    if (child.stdout) this.attachStream(child.stdout);
    if (child.stderr) this.attachStream(child.stderr);
    child.once('close', () => {
      this.#closed = true;
    });
    return this;
  }

  attachStream(stream: NodeJS.ReadableStream): this {
    stream.setEncoding('utf8');
    stream.on('data', (s: string) => this.push(s));
    return this;
  }

  push(s: string): void {
    this.#text += s;
    if (this.#text.length > this.#max) this.#text = this.#text.slice(-this.#max);
  }

  get text(): string {
    return this.#text;
  }

  /**
   * 'exit' can fire before the pipes are drained; the last lines (usually
   * the reason a process died) only arrive by 'close'.
   */
  async settled(ms = 1_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (!this.#closed && Date.now() < deadline) await sleep(20);
    return this.#text;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` until it reports ready. Fails fast, with the captured
 * output, if the process dies first; on timeout the process is killed so a
 * half-started service does not linger until exit.
 */
export async function waitUntilReady(
  child: ChildProcess,
  tail: OutputTail,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isRunning(child)) {
      const out = await tail.settled();
      throw new Error(
        `${what} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready\n` +
          `--- captured output ---\n${out}`,
      );
    }
    if (await probe()) return;
    if (Date.now() >= deadline) {
      await terminate(child, 'SIGKILL', 5_000);
      throw new Error(
        `${what} was not ready within ${timeoutMs} ms\n--- captured output ---\n${tail.text}`,
      );
    }
    await sleep(50);
  }
}
