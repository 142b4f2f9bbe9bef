// Tests for the test helpers themselves: every later integration test trusts
// them to start real services and to clean up, so both are checked here
// against real processes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/free-port.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { startRedis } from '../helpers/redis.js';
import type { RedisInstance } from '../helpers/redis.js';
import { PSQL_BIN, psql, startPostgres } from '../helpers/postgres.js';
import type { PostgresInstance } from '../helpers/postgres.js';
import { startServer } from '../helpers/server-process.js';

/** Raw RESP round trip, independent of the helper's own readiness probe. */
function redisCommand(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(2_000, () => {
      socket.destroy();
      reject(new Error('redis reply timed out'));
    });
    socket.once('error', reject);
    socket.once('connect', () => socket.write(payload));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.endsWith('\r\n')) {
        socket.destroy();
        resolve(reply);
      }
    });
  });
}

/** Resolves with the connect error code, or 'connected' if something listens. */
function probeConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

interface NodeRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function runNode(script: string): Promise<NodeRun> {
  return new Promise((resolve) => {
    const args = ['--input-type=module', '-e', script];
    execFile(process.execPath, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, signal: err?.signal ?? null, stdout, stderr });
    });
  });
}

const PING = '*1\r\n$4\r\nPING\r\n';

describe('freePort', () => {
  test('returns distinct ports that can be bound on 127.0.0.1', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    assert.equal(new Set(ports).size, ports.length, `ports not distinct: ${ports.join(', ')}`);
    for (const port of ports) {
      assert.ok(Number.isInteger(port) && port > 0 && port < 65536, `bad port ${port}`);
      assert.equal(await canListen(port), true, `port ${port} could not be bound`);
    }
  });
});

describe('temp dir', () => {
  test('creates under os.tmpdir() with the prefix, chowns, and removes recursively', async () => {
    const owner = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
    const dir = await makeTempDir('live-chat-helper-test-', owner);
    assert.match(dir, /live-chat-helper-test-[^/]+$/);
    if (owner) assert.equal(statSync(dir).uid, owner.uid);
    writeFileSync(`${dir}/file`, 'x');
    await removeTempDir(dir);
    assert.equal(existsSync(dir), false);
  });
});

describe('startRedis', () => {
  let redis: RedisInstance;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  test('answers PING over a raw socket', async () => {
    assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
    assert.equal(await redisCommand(redis.port, PING), '+PONG\r\n');
  });

  test('keeps no data on disk settings (no RDB, no AOF)', async () => {
    const save = await redisCommand(redis.port, '*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nsave\r\n');
    assert.match(save, /\$4\r\nsave\r\n\$0\r\n/);
  });

  test('restart() comes back on the same port with a new process', async () => {
    const { port, pid } = redis;
    await redis.restart();
    assert.equal(redis.port, port);
    assert.notEqual(redis.pid, pid);
    assert.equal(await redisCommand(redis.port, PING), '+PONG\r\n');
  });

  test('kill() stops answering and restart() recovers', async () => {
    await redis.kill();
    assert.equal(await probeConnect(redis.port), 'ECONNREFUSED');
    await redis.restart();
    assert.equal(await redisCommand(redis.port, PING), '+PONG\r\n');
  });

  test('stop() frees the port and removes the dir', async () => {
    const { port, dir } = redis;
    await redis.stop();
    assert.equal(await probeConnect(port), 'ECONNREFUSED');
    assert.equal(await canListen(port), true);
    assert.equal(existsSync(dir), false);
  });
});

describe('startRedis failures', () => {
  test('a process that dies during startup rejects with its output', async () => {
    await assert.rejects(startRedis({ args: ['--no-such-option', 'x'] }), (err: Error) => {
      assert.match(err.message, /exited \(code 1, signal null\) before it was ready/);
      assert.match(err.message, /Bad directive or wrong number of arguments/);
      return true;
    });
  });

  test('a startup timeout rejects with a clear message and kills the process', async () => {
    // With a password PING gets -NOAUTH, never +PONG, so the timeout is certain.
    const outcome = await startRedis({ args: ['--requirepass', 'x'], timeoutMs: 500 }).then(
      async (r) => {
        await r.stop();
        return new Error('unexpectedly resolved');
      },
      (err: unknown) => err,
    );
    assert.ok(outcome instanceof Error);
    const match = /^redis-server on 127\.0\.0\.1:(\d+) was not ready within 500 ms\n--- captured output ---\n.*Ready to accept connections/s.exec(
      outcome.message,
    );
    assert.ok(match?.[1], outcome.message);
    assert.equal(await probeConnect(Number(match[1])), 'ECONNREFUSED');
  });
});

describe('startPostgres', () => {
  let pg: PostgresInstance;
  before(async () => {
    pg = await startPostgres();
  });
  after(() => pg?.destroy());

  test('url points at a live_chat database that answers select 1', async () => {
    const url = new URL(pg.url);
    assert.equal(url.protocol, 'postgres:');
    assert.equal(url.hostname, '127.0.0.1');
    assert.equal(url.pathname, '/live_chat');
    assert.equal(Number(url.port), pg.port);
    // Plain psql invocation against the url's port, not the helper's wrapper.
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        PSQL_BIN,
        ['-X', '-At', '-h', url.hostname, '-p', url.port, '-U', 'postgres', '-d', 'live_chat', '-c', 'select 1'],
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    assert.equal(out.trim(), '1');
  });

  test('stop() then start() keeps the port and the data', async () => {
    await psql(pg.port, 'create table survives (v int); insert into survives values (42)');
    const { port } = pg;
    await pg.stop();
    assert.equal(pg.pid, -1);
    assert.equal(await probeConnect(port), 'ECONNREFUSED');
    await pg.start();
    assert.equal(pg.port, port);
    assert.equal((await psql(pg.port, 'select v from survives')).trim(), '42');
  });

  test('kill() is a crash that start() recovers from', async () => {
    await pg.kill();
    assert.equal(await probeConnect(pg.port), 'ECONNREFUSED');
    await pg.start();
    assert.equal((await psql(pg.port, 'select v from survives')).trim(), '42');
  });

  test('destroy() stops the server and removes the folder', async () => {
    const { dir, port } = pg;
    assert.equal(existsSync(dir), true);
    await pg.destroy();
    assert.equal(existsSync(dir), false);
    assert.equal(await probeConnect(port), 'ECONNREFUSED');
  });
});

describe('cleanup registry', () => {
  const redisModule = fileURLToPath(new URL('../helpers/redis.js', import.meta.url));

  /**
   * Resolves once process `pid` has ended (a zombie awaiting its reaper counts: it runs nothing
   * and holds no port). Checked by pid, not by probing the port: other test files running at the
   * same time may be handed that port as soon as it is free.
   */
  async function ended(pid: number): Promise<boolean> {
    const deadline = Date.now() + 5000;
    for (;;) {
      let state: string | undefined;
      try {
        state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      } catch {
        return true;
      }
      if (state === 'Z') return true;
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  test('a process that exits without stop() does not leak redis', async () => {
    const { code, stdout, stderr } = await runNode(`
      const { startRedis } = await import(${JSON.stringify(redisModule)});
      const r = await startRedis();
      console.log(JSON.stringify({ pid: r.pid, dir: r.dir }));
      process.exit(3);
    `);
    assert.equal(code, 3, stderr);
    const { pid, dir } = JSON.parse(stdout) as { pid: number; dir: string };
    assert.equal(await ended(pid), true, `redis-server ${pid} still running`);
    assert.equal(existsSync(dir), false);
  });

  test('an uncaught error does not leak redis either', async () => {
    const { code, stdout } = await runNode(`
      const { startRedis } = await import(${JSON.stringify(redisModule)});
      const r = await startRedis();
      console.log(JSON.stringify({ pid: r.pid, dir: r.dir }));
      throw new Error('boom');
    `);
    assert.notEqual(code, 0);
    const { pid, dir } = JSON.parse(stdout) as { pid: number; dir: string };
    assert.equal(await ended(pid), true, `redis-server ${pid} still running`);
    assert.equal(existsSync(dir), false);
  });

  test('SIGTERM to the test process still cleans up', async () => {
    const { signal, stdout } = await runNode(`
      const { startRedis } = await import(${JSON.stringify(redisModule)});
      const r = await startRedis();
      console.log(JSON.stringify({ pid: r.pid, dir: r.dir }));
      process.kill(process.pid, 'SIGTERM');
      setTimeout(() => {}, 10_000);
    `);
    // Re-raised after cleanup, so the process still dies *by* SIGTERM.
    assert.equal(signal, 'SIGTERM');
    const { pid, dir } = JSON.parse(stdout) as { pid: number; dir: string };
    assert.equal(await ended(pid), true, `redis-server ${pid} still running`);
    assert.equal(existsSync(dir), false);
  });
});

describe('startServer', () => {
  test('rejects with the captured stderr when the process dies before the ready line', async () => {
    await assert.rejects(startServer({}, { script: 'does/not/exist.js' }), (err: Error) => {
      assert.match(err.message, /exited before it was ready/);
      assert.match(err.message, /Cannot find module/);
      return true;
    });
  });

  test('starts dist/node/server/main.js, serves /healthz, exits 0 on SIGTERM', async (t) => {
    const server = await startServer();
    t.after(() => server.kill());
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(server.port > 0);
    assert.equal(server.wsUrl, `ws://127.0.0.1:${server.port}/ws/chat`);
    assert.match(server.stdout, new RegExp(`^live-chat listening on ${server.url}$`, 'm'));
    const res = await fetch(`${server.url}/healthz`);
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    assert.deepEqual(await server.stop('SIGTERM'), { code: 0, signal: null });
  });
});
