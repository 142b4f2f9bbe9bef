import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { OutputTail, ServiceProcess, sleep, terminate, trackChild, waitUntilReady, type Running } from './cleanup.js';
import { launchOnFreePort } from './free-port.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';
import type { TempDirOwner } from './temp-dir.js';

export const PG_BIN_DIR = '/usr/lib/postgresql/15/bin';
export const PSQL_BIN = existsSync('/usr/bin/psql') ? '/usr/bin/psql' : join(PG_BIN_DIR, 'psql');
export const PG_DATABASE = 'live_chat';

export interface PostgresOptions {
  /** How long to wait for "accepting connections"; default 20 s. */
  timeoutMs?: number;
}

export interface PostgresInstance {
  /** postgres://postgres@127.0.0.1:PORT/live_chat (trust auth, no password). */
  readonly url: string;
  readonly port: number;
  /** Temp folder holding data/ and the unix socket; removed by destroy(). */
  readonly dir: string;
  /** pid of the current postmaster, -1 while stopped. */
  readonly pid: number;
  /** Tail of the current postmaster's log output. */
  readonly output: string;
  /** Fast shutdown (SIGINT), waits for exit. Data is kept. */
  stop(): Promise<void>;
  /** Starts again on the same port and data directory; no-op if running. */
  start(): Promise<void>;
  /** SIGKILL, as in a crash; start() recovers from it. */
  kill(): Promise<void>;
  /** stop() and remove the folder. */
  destroy(): Promise<void>;
}

/**
 * PostgreSQL refuses to run as root. The server is spawned with uid/gid
 * rather than through `runuser`: runuser forks and stays as the parent, so
 * our SIGINT/SIGKILL would hit runuser, not the postmaster, and SIGKILL
 * would orphan it. Using the same mechanism for initdb keeps one code path.
 */
function postgresUser(): TempDirOwner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number =>
    Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

function run(
  file: string,
  args: string[],
  opts: { cwd?: string; user?: TempDirOwner | undefined; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: opts.cwd,
        uid: opts.user?.uid,
        gid: opts.user?.gid,
        timeout: opts.timeoutMs ?? 30_000,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

/**
 * Runs SQL through psql over TCP (trust auth) and returns unaligned,
 * tuples-only output; ON_ERROR_STOP makes SQL errors reject.
 */
export function psql(port: number, sql: string, database = PG_DATABASE): Promise<string> {
  return run(PSQL_BIN, [
    '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
    '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', database,
    '-c', sql,
  ]);
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The port can be open while the server still answers "starting up". */
async function acceptingConnections(port: number): Promise<boolean> {
  if (!(await tcpOpen(port))) return false;
  try {
    await run(join(PG_BIN_DIR, 'pg_isready'), [
      '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-t', '2',
    ]);
    return true;
  } catch {
    return false;
  }
}

// After a SIGKILL the old backends take a moment to notice the postmaster is
// gone and detach from shared memory; a new postmaster refuses to start until
// they have, so these failures are retried until the deadline.
const TRANSIENT_START_FAILURE = /shared memory block .* is still in use|lock file .* already exists/i;

async function launch(
  dir: string,
  port: number,
  user: TempDirOwner | undefined,
  timeoutMs: number,
): Promise<Running> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const child = spawn(
      join(PG_BIN_DIR, 'postgres'),
      [
        '-D', join(dir, 'data'),
        '-p', String(port),
        '-k', dir,
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'fsync=off',
        '-c', 'full_page_writes=off',
      ],
      { cwd: dir, uid: user?.uid, gid: user?.gid, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    trackChild(child);
    const tail = new OutputTail().attach(child);
    child.once('error', (err) => tail.push(`\n[spawn error] ${err.message}\n`));
    try {
      await waitUntilReady(
        child,
        tail,
        () => acceptingConnections(port),
        Math.max(deadline - Date.now(), 1),
        `postgres on 127.0.0.1:${port}`,
      );
      return { child, tail };
    } catch (err) {
      const transient = err instanceof Error && TRANSIENT_START_FAILURE.test(err.message);
      if (!transient || Date.now() >= deadline) throw err;
      await sleep(200);
    }
  }
}

export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresInstance> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const user = postgresUser();
  const dir = await makeTempDir('live-chat-pg-', user);
  let port = 0;
  let current: Running | undefined;
  try {
    await run(
      join(PG_BIN_DIR, 'initdb'),
      ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { cwd: dir, user, timeoutMs: 60_000 },
    );
    ({ port, launched: current } = await launchOnFreePort((p) => launch(dir, p, user, timeoutMs)));
    await psql(port, `create database ${PG_DATABASE}`, 'postgres');
  } catch (err) {
    if (current) await terminate(current.child, 'SIGKILL', 5_000);
    await removeTempDir(dir);
    throw err;
  }

  const service = new ServiceProcess(current, () => launch(dir, port, user, timeoutMs), 15_000);

  return {
    url: `postgres://postgres@127.0.0.1:${port}/${PG_DATABASE}`,
    port,
    dir,
    get pid() {
      return service.pid;
    },
    get output() {
      return service.output;
    },
    stop: () => service.halt('SIGINT'),
    kill: () => service.halt('SIGKILL'),
    start: () => service.start(),
    async destroy() {
      await service.halt('SIGINT');
      await removeTempDir(dir);
    },
  };
}
