// Scale-out when a dependency fails (PROTOCOL.md "When a dependency fails"): Redis restarted or
// down in the middle of a stream of messages (every message reaches every participant exactly
// once, in seq order; sends are accepted meanwhile; /healthz 503; the rate limit counts per
// instance; subscriptions come back), an instance started while Redis is down, and PostgreSQL
// stopped and started (4100 and 503, then recovery). Real redis-server, PostgreSQL and servers.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, clientFrame, newMessageId } from '../../src/protocol/index.js';
import { startPostgres, type PostgresInstance } from '../helpers/postgres.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { closeAllClients, connectAs, is, schemaViolations, sleep, uniqueId, type Frame, type TestClient } from '../helpers/ws-client.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const seqs = (frames: Frame[]) => frames.map((f) => f.payload.seq as number);

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const healthStatus = async (server: ServerProcess) => (await fetch(`${server.url}/healthz`)).status;

/** Waits until `client` holds `count` new_message frames of `conv` in its log. */
async function received(client: TestClient, conv: string, count: number, timeoutMs = 10_000): Promise<Frame[]> {
  await until(`${count} messages`, () => client.log.filter(is.newMessage(conv)).length >= count, timeoutMs).catch(() => undefined);
  return client.log.filter(is.newMessage(conv));
}

/** Sends one command to the Redis on `port` and resolves with its first reply line. */
function redisCommand(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    socket.setEncoding('utf8').once('data', (reply: string) => {
      socket.destroy();
      resolve(reply.split('\r\n')[0]!);
    });
    socket.once('error', reject);
  });
}

/** The pids of `pid`'s children (PostgreSQL's backends and workers under its postmaster). */
function childPids(pid: number): Promise<number[]> {
  return new Promise((resolve) => execFile('pgrep', ['-P', String(pid)], (_error, stdout) => resolve(stdout.split('\n').filter(Boolean).map(Number))));
}

describe('scale-out when Redis or PostgreSQL fails', () => {
  let pg: PostgresInstance;
  let redis: RedisInstance;
  let a: ServerProcess;
  let b: ServerProcess;
  const extra: ServerProcess[] = [];
  let env: Record<string, string>;

  before(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    env = { DATABASE_URL: pg.url, REDIS_URL: redis.url, LOG_LEVEL: 'warn' };
    [a, b] = await Promise.all([startServer(env), startServer(env)]);
  });
  after(async () => {
    await closeAllClients();
    await Promise.all([a, b, ...extra].map((s) => s?.stop()));
    await Promise.all([redis?.stop(), pg?.destroy()]);
  });

  /** A user on A and an agent on B (plus an agent on A), all joined. */
  async function room() {
    const conv = uniqueId('cust');
    const user = await connectAs(a.wsUrl, { sub: conv });
    const agent = await connectAs(b.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    const localAgent = await connectAs(a.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    await Promise.all([user.join(conv), agent.join(conv), localAgent.join(conv)]);
    return { conv, user, agent, localAgent, everyone: [user, agent, localAgent] };
  }

  /** Sends `count` messages from each sender, one every `everyMs`, calling `during` once a third have gone; returns every ack. */
  async function stream(conv: string, senders: TestClient[], count: number, everyMs: number, during: () => Promise<void>): Promise<Frame[]> {
    const answers: Promise<Frame>[] = [];
    let disruption: Promise<void> | undefined;
    for (let i = 0; i < count; i++) {
      if (i === Math.floor(count / 3)) disruption = during();
      for (const sender of senders) {
        const id = sender.postMessage(conv, `stream ${i}`);
        answers.push(sender.next(is.answerTo(id), 20_000));
      }
      await sleep(everyMs);
    }
    await disruption;
    return Promise.all(answers);
  }

  function assertExactlyOnceInOrder(everyone: TestClient[], acks: Frame[], total: number, frames: Frame[][]): void {
    for (const ack of acks) assert.equal(ack.type, 'message_ack', `every send is acked, Redis or not: ${JSON.stringify(ack)}`);
    assert.deepEqual(acks.map((f) => f.payload.seq as number).sort((x, y) => x - y), range(total));
    for (const [k, got] of frames.entries()) assert.deepEqual(seqs(got), range(total), `participant ${k} received every message once, in seq order`);
    for (const client of everyone) assert.ok(client.isOpen, 'no client was disconnected');
  }

  it('a Redis restart in the middle of a stream: every message reaches every participant exactly once, in seq order', async () => {
    const { conv, user, agent, everyone } = await room();
    const COUNT = 24;
    const acks = await stream(conv, [user, agent], COUNT, 20, () => redis.restart());
    const total = 2 * COUNT;
    const frames = await Promise.all(everyone.map((c) => received(c, conv, total)));
    await sleep(300); // nothing doubled arrives late
    assertExactlyOnceInOrder(everyone, acks, total, everyone.map((c) => c.log.filter(is.newMessage(conv))));
    assert.equal(frames.length, 3);
  });

  it('while Redis is down: sends are stored and acked, /healthz is 503, delivery catches up when it returns, and subscriptions are restored', async () => {
    const { conv, user, agent, localAgent, everyone } = await room();
    const COUNT = 24;
    let unhealthy: number[] = [];
    const acks = await stream(conv, [user, agent], COUNT, 25, async () => {
      await redis.kill();
      await sleep(300);
      unhealthy = [await healthStatus(a), await healthStatus(b)];
      await sleep(300);
      await redis.restart();
    });
    assert.deepEqual(unhealthy, [503, 503], '/healthz answers 503 on every instance while Redis is down');
    const total = 2 * COUNT;
    await Promise.all(everyone.map((c) => received(c, conv, total)));
    await sleep(300);
    assertExactlyOnceInOrder(everyone, acks, total, everyone.map((c) => c.log.filter(is.newMessage(conv))));
    await until('both instances healthy again', async () => (await healthStatus(a)) === 200 && (await healthStatus(b)) === 200);

    // Live delivery across instances again (the subscriptions came back), not only catch-up: typing
    // is never caught up from the store, so it only arrives through a restored subscription.
    user.typing(conv, true);
    const typing = await agent.next(is.typing(conv), 3000);
    assert.equal(typing.payload.user_id, conv);
    const live = await user.sendMessage(conv, 'after the outage');
    assert.equal(live.payload.seq, total + 1);
    await agent.next(is.newMessage(conv, live.payload.message_id), 3000);
    await localAgent.next(is.newMessage(conv, live.payload.message_id), 3000);
  });

  it('a Redis that hangs (stopped, connections kept): /healthz 503, sends still acked; when it answers again, 200 and every message reached the other instance once', async () => {
    const { conv, user, agent } = await room();
    const pid = redis.pid;
    process.kill(pid, 'SIGSTOP');
    let during: Frame;
    try {
      assert.deepEqual([await healthStatus(a), await healthStatus(b)], [503, 503], 'a Redis that answers nothing is no bus');
      during = await user.sendMessage(conv, 'while Redis hangs', undefined, 10_000);
      assert.equal(during.type, 'message_ack', JSON.stringify(during));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await until('both instances healthy again', async () => (await healthStatus(a)) === 200 && (await healthStatus(b)) === 200);
    await agent.next(is.newMessage(conv, during.payload.message_id), 5000);
    const after = await user.sendMessage(conv, 'after');
    await agent.next(is.newMessage(conv, after.payload.message_id), 3000);
    await sleep(300);
    assert.deepEqual(seqs(agent.log.filter(is.newMessage(conv))), [1, 2], 'each once, in order');
  });

  it('messages stored while Redis is down reach the other instance when it returns, with nothing sent after them', async () => {
    const { conv, user, agent, localAgent } = await room();
    await redis.kill();
    const acks: Frame[] = [];
    try {
      await until('Redis seen as down', async () => (await healthStatus(a)) === 503);
      for (let i = 0; i < 3; i++) acks.push(await user.sendMessage(conv, `during ${i}`));
      assert.deepEqual(seqs(acks), [1, 2, 3]);
      // The sender's own instance delivers at once, Redis or not.
      assert.deepEqual(seqs(await received(localAgent, conv, 3)), [1, 2, 3]);
    } finally {
      await redis.restart();
    }
    assert.deepEqual(seqs(await received(agent, conv, 3)), [1, 2, 3], 'caught up from the store once the bus is back');
    await sleep(300);
    assert.deepEqual(seqs(agent.log.filter(is.newMessage(conv))), [1, 2, 3], 'and only once');
  });

  it('one (user, device) connected on both instances while Redis is down: once it is back, the older connection closes 4009 and the newer stays', async () => {
    // Both directions, so that either instance may be the one whose link to Redis returns first.
    const [first, second] = [uniqueId('cust'), uniqueId('cust')];
    await redis.kill();
    let older: TestClient[];
    let newer: TestClient[];
    try {
      await until('Redis seen as down', async () => (await healthStatus(a)) === 503 && (await healthStatus(b)) === 503);
      older = [await connectAs(b.wsUrl, { sub: first, device_id: 'laptop' }), await connectAs(a.wsUrl, { sub: second, device_id: 'laptop' })];
      await sleep(5); // a later authentication, to the millisecond
      newer = [await connectAs(a.wsUrl, { sub: first, device_id: 'laptop' }), await connectAs(b.wsUrl, { sub: second, device_id: 'laptop' })];
      // Long enough for the Redis client's retries to spread out (100 ms, 200 ms, … 1 s): the four links then come back at different moments.
      await sleep(2500);
    } finally {
      await redis.restart();
    }
    for (const connection of older) assert.equal((await connection.waitClosed(10_000)).code, 4009);
    for (const connection of newer) await connection.roundTrip();
  });

  it('while Redis is down the rate limit counts on each instance, and across instances again once it is back', async () => {
    const conv = uniqueId('limited');
    const onA = await connectAs(a.wsUrl, { sub: conv });
    const onB = await connectAs(b.wsUrl, { sub: conv });
    await Promise.all([onA.join(conv), onB.join(conv)]);
    await redis.kill();
    try {
      await until('Redis seen as down', async () => (await healthStatus(a)) === 503 && (await healthStatus(b)) === 503);
      for (let i = 0; i < 30; i++) assert.equal((await onA.sendMessage(conv, `a${i}`)).type, 'message_ack');
      assert.equal((await onA.sendMessage(conv, 'a over')).payload.code, ErrorCode.RATE_LIMITED, 'instance A still limits');
      // B has not counted A's messages: each instance counts alone while Redis is away.
      for (let i = 0; i < 30; i++) assert.equal((await onB.sendMessage(conv, `b${i}`)).type, 'message_ack');
      assert.equal((await onB.sendMessage(conv, 'b over')).payload.code, ErrorCode.RATE_LIMITED);
    } finally {
      await redis.restart();
    }
    await until('Redis back', async () => (await healthStatus(a)) === 200 && (await healthStatus(b)) === 200);
    // Back in Redis: a fresh user counts across the two instances again.
    const fresh = uniqueId('fresh');
    const freshA = await connectAs(a.wsUrl, { sub: fresh });
    const freshB = await connectAs(b.wsUrl, { sub: fresh });
    await Promise.all([freshA.join(fresh), freshB.join(fresh)]);
    for (let i = 0; i < 15; i++) assert.equal((await freshA.sendMessage(fresh, `a${i}`)).type, 'message_ack');
    for (let i = 0; i < 15; i++) assert.equal((await freshB.sendMessage(fresh, `b${i}`)).type, 'message_ack');
    assert.equal((await freshA.sendMessage(fresh, 'over')).payload.code, ErrorCode.RATE_LIMITED);
  });

  it('an instance started while Redis is down starts unhealthy, serves its own clients, and joins the others when Redis comes', async () => {
    await redis.kill();
    let c: ServerProcess;
    let restarted = false;
    try {
      c = await startServer(env);
      extra.push(c);
      assert.equal(await healthStatus(c), 503);
      const conv = uniqueId('late');
      const user = await connectAs(c.wsUrl, { sub: conv });
      await user.join(conv);
      const ack = await user.sendMessage(conv, 'stored without Redis');
      assert.equal(ack.payload.seq, 1);
      await user.next(is.newMessage(conv, ack.payload.message_id));

      await redis.restart();
      restarted = true;
      await until('the late instance healthy', async () => (await healthStatus(c)) === 200);
      const agent = await connectAs(a.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      await agent.join(conv, 1);
      const reply = await agent.sendMessage(conv, 'from A');
      assert.equal(reply.payload.seq, 2);
      await user.next(is.newMessage(conv, reply.payload.message_id), 3000);
      const back = await user.sendMessage(conv, 'from the late instance');
      await agent.next(is.newMessage(conv, back.payload.message_id), 3000);
    } finally {
      if (!restarted) await redis.restart();
    }
  });

  it('while PostgreSQL hangs a ping is still answered at once; while it is stopped sends get 4100 (nothing stored) and /healthz 503; after it starts again the retry is stored once and delivered', async () => {
    const { conv, user, agent } = await room();
    const before = await user.sendMessage(conv, 'before');
    assert.equal(before.payload.seq, 1);
    await agent.next(is.newMessage(conv, before.payload.message_id));

    // A store that hangs (every PostgreSQL process stopped): a ping is answered at once, not
    // behind the send that waits on the store.
    const frozen = [pg.pid, ...(await childPids(pg.pid))];
    const hanging = newMessageId();
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    try {
      user.postMessage(conv, 'while the store hangs', hanging);
      user.send(clientFrame('ping', {}));
      const firstAnswer = await user.next((f) => f.type === 'pong' || is.answerTo(hanging)(f), 10_000);
      assert.equal(firstAnswer.type, 'pong', 'a ping is answered at once, not behind a send waiting on the store');
      assert.deepEqual(await user.collect(is.answerTo(hanging), 300), [], 'the send waits while the store hangs');
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
    }
    assert.equal((await user.next(is.answerTo(hanging), 10_000)).type, 'message_ack');
    await agent.next(is.newMessage(conv, hanging));

    await pg.stop();
    const id = newMessageId();
    try {
      user.postMessage(conv, 'while the store is down', id);
      const refused = await user.next(is.answerTo(id), 10_000);
      assert.equal(refused.type, 'error', JSON.stringify(refused));
      assert.equal(refused.payload.code, ErrorCode.SERVER_ERROR);
      assert.equal(refused.payload.retryable, true);
      assert.equal(refused.payload.message_id, id);
      for (const server of [a, b]) {
        const res = await fetch(`${server.url}/healthz`);
        assert.equal(res.status, 503);
        assert.match(((await res.json()) as { problems: string[] }).problems.join(' '), /store/);
      }
      const join = await connectAs(b.wsUrl, { sub: uniqueId('agent'), role: 'agent' }).then((c) => c.join(conv));
      assert.equal(join.ack.payload.code, ErrorCode.SERVER_ERROR, 'a join needs the store too');
      // A join again that fails leaves the agent in the conversation it was in: the new message below still reaches it.
      assert.equal((await agent.join(conv)).ack.payload.code, ErrorCode.SERVER_ERROR, 'a join again needs the store too');
    } finally {
      await pg.start();
    }
    assert.deepEqual(await agent.collect(is.newMessage(conv), 200), [], 'nothing broadcast for what was not stored');
    await until('healthy again', async () => (await healthStatus(a)) === 200 && (await healthStatus(b)) === 200, 15_000);
    const retry = await user.sendMessage(conv, 'while the store is down', id, 10_000);
    assert.equal(retry.type, 'message_ack', JSON.stringify(retry));
    assert.equal(retry.payload.seq, 3, 'no seq was used by the refused attempt');
    const delivered = await agent.next(is.newMessage(conv, id));
    assert.equal(delivered.payload.seq, 3);
    assert.equal((await user.sendMessage(conv, 'after')).payload.seq, 4);
    for (const server of [a, b]) assert.equal(server.child.exitCode, null, 'the instances survived the outage');
  });

  it('a Redis that refuses the password (none given, or a wrong one): the instance exits 1 at start naming REDIS_URL, not a lasting 503', async () => {
    const locked = await startRedis();
    try {
      assert.equal(await redisCommand(locked.port, 'CONFIG', 'SET', 'requirepass', 's3cret'), '+OK');
      for (const [url, said] of [[locked.url, /NOAUTH/], [`redis://:wrong@127.0.0.1:${locked.port}`, /WRONGPASS/]] as const) {
        const started = await startServer({ ...env, REDIS_URL: url }, { timeoutMs: 30_000 }).catch((error: Error) => error);
        if (!(started instanceof Error)) {
          await started.stop();
          assert.fail(`started with ${url}`);
        }
        assert.match(started.message, /exited before it was ready \(code 1/);
        assert.match(started.message, /live-chat: could not start: Redis at \S+ \(REDIS_URL\) refused the credentials: /);
        assert.match(started.message, said);
        assert.doesNotMatch(started.message, /:wrong@/, 'the password is not printed');
      }
    } finally {
      await locked.stop();
    }
  });

  it('sends only frames that match the protocol\'s schemas', () => {
    assert.deepEqual(schemaViolations(), []);
  });
});
