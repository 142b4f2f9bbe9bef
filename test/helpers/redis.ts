import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { OutputTail, ServiceProcess, trackChild, trackDir, waitUntilReady, type Running } from './cleanup.js';
import { launchOnFreePort } from './free-port.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

export const REDIS_SERVER_BIN = '/usr/bin/redis-server';

export interface RedisOptions {
  /** How long to wait for the first PONG; default 10 s. */
  timeoutMs?: number;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
}

export interface RedisInstance {
  readonly url: string;
  readonly port: number;
  /** pid of the current redis-server process; changes on restart(). */
  readonly pid: number;
  /** Working directory given to --dir; removed by stop(). */
  readonly dir: string;
  /** Tail of the current process's stdout+stderr. */
  readonly output: string;
  /** Graceful shutdown (SIGTERM) and removal of the working directory. */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL by default); the directory is kept so restart() works. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the current process, if any, and starts a new one on the same port. */
  restart(): Promise<void>;
}

/**
 * Sends a RESP PING over a raw socket and resolves true only on +PONG, so
 * readiness does not depend on a client library's own reconnect logic.
 */
export function pingRedis(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      reply += chunk;
      // "-LOADING ..." and friends also end in CRLF: only PONG means ready.
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG\r\n'));
    });
  });
}

async function launch(port: number, dir: string, opts: RedisOptions): Promise<Running> {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--dir', dir,
    ...(opts.args ?? []),
  ];
  const child = spawn(REDIS_SERVER_BIN, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  const tail = new OutputTail().attach(child);
  // Without a listener a spawn failure (ENOENT) would be an uncaught 'error';
  // the exit that follows is reported by waitUntilReady with the output.
  child.once('error', (err) => tail.push(`\n[spawn error] ${err.message}\n`));
  await waitUntilReady(
    child,
    tail,
    () => pingRedis(port),
    opts.timeoutMs ?? 10_000,
    `redis-server on 127.0.0.1:${port}`,
  );
  return { child, tail };
}

export async function startRedis(opts: RedisOptions = {}): Promise<RedisInstance> {
  const dir = await makeTempDir('live-chat-redis-');
  let port: number;
  let current: Running | undefined;
  try {
    ({ port, launched: current } = await launchOnFreePort((p) => launch(p, dir, opts)));
  } catch (err) {
    await removeTempDir(dir);
    throw err;
  }

  const service = new ServiceProcess(current, () => launch(port, dir, opts), 10_000);

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return service.pid;
    },
    get output() {
      return service.output;
    },
    async stop() {
      await service.halt('SIGTERM');
      await removeTempDir(dir);
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      await service.halt(signal);
    },
    async restart() {
      await service.halt('SIGTERM');
      // stop() may have removed the directory; restart() must still work.
      await mkdir(dir, { recursive: true });
      trackDir(dir);
      await service.start();
    },
  };
}
