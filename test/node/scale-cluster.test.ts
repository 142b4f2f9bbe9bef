// Scale-out (README "Operating several instances"): three real server instances on one real
// PostgreSQL and one real redis-server, WebSocket clients spread over them. Messages, typing and
// read receipts cross instances; seq stays per conversation and gapless with senders on every
// instance at once; idempotency, the rate limit and the one-connection-per-device rule hold
// across instances; an instance killed with -9 loses only its own sockets.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, newMessageId } from '../../src/protocol/index.js';
import { psql, startPostgres, type PostgresInstance } from '../helpers/postgres.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { closeAllClients, connectAs, is, schemaViolations, sleep, uniqueId, type Frame, type TestClient } from '../helpers/ws-client.js';

/** Waits until `client` holds `count` new_message frames of `conv` (in its log), then returns them in arrival order. */
async function receivedMessages(client: TestClient, conv: string, count: number, timeoutMs = 10_000): Promise<Frame[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = client.log.filter(is.newMessage(conv));
    if (got.length >= count || Date.now() > deadline) return got;
    await sleep(25);
  }
}

const seqs = (frames: Frame[]) => frames.map((f) => f.payload.seq as number);
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('scale-out: several instances on PostgreSQL and Redis', () => {
  let pg: PostgresInstance;
  let redis: RedisInstance;
  let servers: ServerProcess[] = [];

  before(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    const env = { DATABASE_URL: pg.url, REDIS_URL: redis.url, LOG_LEVEL: 'warn' };
    // All at once on an empty database: the migration must be safe when several instances start together.
    servers = await Promise.all([startServer(env), startServer(env), startServer(env)]);
  });
  after(async () => {
    await closeAllClients();
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all([redis?.stop(), pg?.destroy()]);
  });

  it('three instances started at once on an empty database migrate it once, and each is healthy', async () => {
    const tables = (await psql(pg.port, "select string_agg(tablename, ',' order by tablename) from pg_tables where schemaname = 'public'")).trim();
    assert.equal(tables, 'conversations,health,messages,read_positions');
    for (const server of servers) {
      const res = await fetch(`${server.url}/healthz`);
      assert.equal(res.status, 200, await res.text());
    }
    // A fourth start runs the migration again on a migrated database: idempotent.
    const again = await startServer({ DATABASE_URL: pg.url, REDIS_URL: redis.url, LOG_LEVEL: 'warn' });
    try {
      assert.equal((await fetch(`${again.url}/healthz`)).status, 200);
    } finally {
      await again.stop();
    }
  });

  it('the typing throttle counts across instances: one user typing on two devices on two instances is forwarded once a second', async () => {
    const [a, b, c] = servers;
    const conv = uniqueId('cust');
    const phone = await connectAs(a!.wsUrl, { sub: conv, device_id: 'phone' });
    const laptop = await connectAs(b!.wsUrl, { sub: conv, device_id: 'laptop' });
    const agent = await connectAs(c!.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    for (const client of [phone, laptop, agent]) await client.join(conv);
    phone.typing(conv, true);
    laptop.typing(conv, true);
    const seen = await agent.collect((f) => f.type === 'typing' && f.payload.is_typing === true, 600);
    assert.equal(seen.length, 1, JSON.stringify(seen));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    laptop.typing(conv, true);
    assert.equal((await agent.next((f) => f.type === 'typing' && f.payload.is_typing === true)).payload.user_id, conv, 'allowed again after a second');
  });

  it('a user on instance A and an agent on instance B see each other\'s messages, typing and read receipts', async () => {
    const [a, b, c] = servers;
    const conv = uniqueId('cust');
    const agentId = uniqueId('agent');
    const user = await connectAs(a!.wsUrl, { sub: conv });
    const agent = await connectAs(b!.wsUrl, { sub: agentId, role: 'agent' });
    await user.join(conv);
    await agent.join(conv);

    const fromUser = await user.sendMessage(conv, 'hello from A');
    assert.equal(fromUser.type, 'message_ack', JSON.stringify(fromUser));
    assert.equal(fromUser.payload.seq, 1);
    const atAgent = await agent.next(is.newMessage(conv, fromUser.payload.message_id));
    assert.equal(atAgent.payload.seq, 1);
    assert.equal(atAgent.payload.created_at, fromUser.payload.created_at);
    assert.match(atAgent.payload.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const fromAgent = await agent.sendMessage(conv, 'hello from B');
    assert.equal(fromAgent.payload.seq, 2);
    const atUser = await user.next(is.newMessage(conv, fromAgent.payload.message_id));
    assert.equal(atUser.payload.sender_id, agentId);
    assert.equal(atUser.payload.sender_role, 'agent');

    user.typing(conv, true);
    const typing = await agent.next(is.typing(conv));
    assert.deepEqual(typing.payload, { conversation_id: conv, user_id: conv, is_typing: true });
    agent.typing(conv, false);
    assert.equal((await user.next(is.typing(conv))).payload.is_typing, false);

    agent.markRead(fromUser.payload.message_id);
    const read = await user.next(is.readAck(fromUser.payload.message_id));
    assert.deepEqual(read.payload, { message_id: fromUser.payload.message_id, status: 'read', user_id: agentId, conversation_id: conv, seq: 1 });

    // A third instance reads the same store: the user's history there shows both messages and the agent's read position.
    const again = await connectAs(c!.wsUrl, { sub: conv });
    const { history } = await again.join(conv, 0);
    assert.deepEqual(history!.payload.messages.map((m: { seq: number }) => m.seq), [1, 2]);
    assert.equal(history!.payload.last_seq, 2);
    assert.equal(history!.payload.peer_read_seq, 1);
    // The typing never reached its own sender.
    assert.deepEqual(user.log.filter(is.typing(conv)).filter((f) => f.payload.user_id === conv), []);
  });

  it('keeps seq per conversation gapless and identical everywhere with senders on three instances at once', async () => {
    const conv = uniqueId('busy');
    const PER_SENDER = 25;
    const user = await connectAs(servers[0]!.wsUrl, { sub: conv });
    const agents = await Promise.all(servers.map((s) => connectAs(s.wsUrl, { sub: uniqueId('agent'), role: 'agent' })));
    const everyone = [user, ...agents];
    await Promise.all(everyone.map((c) => c.join(conv)));

    // Everyone fires all their messages without waiting: the writes of the four senders interleave in the store.
    const ids = everyone.map((c) => Array.from({ length: PER_SENDER }, (_, i) => c.postMessage(conv, `message ${i}`)));
    const acks = await Promise.all(everyone.flatMap((c, k) => ids[k]!.map((id) => c.next(is.answerTo(id), 15_000))));
    for (const ack of acks) assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
    const total = everyone.length * PER_SENDER;
    assert.deepEqual(
      acks.map((a) => a.payload.seq as number).sort((x, y) => x - y),
      range(total),
      'every seq from 1 to N exactly once',
    );
    // Each sender's own messages got increasing seq in the order it sent them (its frames are handled in order).
    for (const k of everyone.keys()) {
      const own = acks.slice(k * PER_SENDER, (k + 1) * PER_SENDER).map((a) => a.payload.seq as number);
      assert.deepEqual(own, [...own].sort((x, y) => x - y));
    }
    const seqOf = new Map(acks.map((a) => [a.payload.message_id as string, a.payload.seq as number]));
    for (const client of everyone) {
      const got = await receivedMessages(client, conv, total);
      assert.deepEqual(seqs(got), range(total), 'every participant, on every instance, receives 1..N once each, in seq order');
      for (const frame of got) assert.equal(frame.payload.seq, seqOf.get(frame.payload.message_id), 'the same seq everywhere');
    }
    // created_at never decreases as seq grows.
    const times = (await receivedMessages(user, conv, total)).map((f) => f.payload.created_at as string);
    assert.deepEqual(times, [...times].sort());
    assert.equal((await psql(pg.port, `select count(*) || ':' || max(seq) from messages where conversation_id = '${conv}'`)).trim(), `${total}:${total}`);
  });

  it('acks a message_id retried on another instance after a reconnect with the first seq, and does not broadcast it again', async () => {
    const [a, b, c] = servers;
    const conv = uniqueId('retry');
    const observer = await connectAs(c!.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    await observer.join(conv);
    const first = await connectAs(a!.wsUrl, { sub: conv });
    await first.join(conv);
    const id = newMessageId();
    const ack = await first.sendMessage(conv, 'only once', id);
    assert.equal(ack.payload.seq, 1);
    await first.close();

    const second = await connectAs(b!.wsUrl, { sub: conv });
    const { history } = await second.join(conv, 1);
    assert.deepEqual(history!.payload.messages, []);
    const retry = await second.sendMessage(conv, 'only once', id);
    assert.deepEqual(retry.payload, ack.payload, 'same seq and created_at');
    const next = await second.sendMessage(conv, 'the next one');
    assert.equal(next.payload.seq, 2, 'the retry took no seq');
    await observer.next(is.newMessage(conv, next.payload.message_id));
    assert.equal(observer.log.filter(is.newMessage(conv, id)).length, 1, 'broadcast once');
    assert.equal(second.log.filter(is.newMessage(conv, id)).length, 0, 'not broadcast again to the retrying connection');

    // The same message_id in another conversation is refused on any instance.
    const other = await connectAs(a!.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    const elsewhere = uniqueId('cust');
    await other.join(elsewhere);
    const refused = await other.sendMessage(elsewhere, 'stolen id', id);
    assert.equal(refused.payload.code, ErrorCode.BAD_REQUEST);
  });

  it('stores a message_id sent on two instances at the same moment once, without consuming a seq for the loser', async () => {
    const [a, b, c] = servers;
    const conv = uniqueId('race');
    const onA = await connectAs(a!.wsUrl, { sub: conv });
    const onB = await connectAs(b!.wsUrl, { sub: conv });
    const observer = await connectAs(c!.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    await Promise.all([onA.join(conv), onB.join(conv), observer.join(conv)]);
    const ROUNDS = 12;
    for (let round = 1; round <= ROUNDS; round++) {
      const id = newMessageId();
      onA.postMessage(conv, `race ${round}`, id);
      onB.postMessage(conv, `race ${round}`, id);
      const [ackA, ackB] = await Promise.all([onA.next(is.answerTo(id), 10_000), onB.next(is.answerTo(id), 10_000)]);
      assert.equal(ackA.type, 'message_ack', JSON.stringify(ackA));
      assert.deepEqual(ackB.payload, ackA.payload, 'both copies get the same ack');
      assert.equal(ackA.payload.seq, round, 'no seq was consumed by the copy that lost');
    }
    const got = await receivedMessages(observer, conv, ROUNDS);
    await sleep(300);
    assert.deepEqual(seqs(observer.log.filter(is.newMessage(conv))), range(ROUNDS), 'each stored once, broadcast once');
    assert.deepEqual(seqs(got), range(ROUNDS));
  });

  it('counts the rate limit (30 a minute per user) across all instances', async () => {
    const conv = uniqueId('limited');
    const clients = await Promise.all(servers.map((s) => connectAs(s.wsUrl, { sub: conv })));
    await Promise.all(clients.map((c) => c.join(conv)));
    const stored: Frame[] = [];
    // 10 on each instance: 30 in all, the limit.
    for (const client of clients) for (let i = 0; i < 10; i++) stored.push(await client.sendMessage(conv, `m${i}`));
    for (const ack of stored) assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
    for (const client of clients) {
      const refused = await client.sendMessage(conv, 'one too many');
      assert.equal(refused.payload.code, ErrorCode.RATE_LIMITED, JSON.stringify(refused));
      assert.ok(refused.payload.retry_after_ms > 0 && refused.payload.retry_after_ms <= 60_000, JSON.stringify(refused));
    }
    // A retry of a stored message_id is still acked at the limit, on another instance.
    const retry = await clients[2]!.sendMessage(conv, 'm0', stored[0]!.payload.message_id);
    assert.deepEqual(retry.payload, stored[0]!.payload);
    // Another user is not affected.
    const agent = await connectAs(servers[1]!.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    await agent.join(conv);
    assert.equal((await agent.sendMessage(conv, 'not limited')).type, 'message_ack');
  });

  it('a retry or a reused message_id arriving with the 30th new message does not take its slot, even for a moment', async () => {
    // The store is asked before the rate limit, so only new messages ever hold a slot.
    const [a, b] = servers;
    for (const kind of ['retry', 'retry', 'reused', 'reused']) {
      const user = uniqueId('slot');
      const phone = await connectAs(a!.wsUrl, { sub: user, role: 'agent', device_id: 'phone' });
      const laptop = await connectAs(b!.wsUrl, { sub: user, role: 'agent', device_id: 'laptop' });
      await Promise.all([phone.join(user), laptop.join(user), phone.join(`${user}-other`)]);
      const ids = Array.from({ length: 29 }, (_, i) => phone.postMessage(user, `m${i}`));
      for (const ack of await Promise.all(ids.map((id) => phone.next(is.answerTo(id), 10_000)))) assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
      const again = phone.postMessage(kind === 'retry' ? user : `${user}-other`, 'm0', ids[0]);
      const thirtieth = laptop.postMessage(user, 'the thirtieth');
      const [answer, other] = await Promise.all([laptop.next(is.answerTo(thirtieth), 10_000), phone.next(is.answerTo(again), 10_000)]);
      assert.equal(answer.type, 'message_ack', `${kind}: ${JSON.stringify(answer)}`);
      assert.equal(other.type === 'error' ? other.payload.code : other.type, kind === 'retry' ? 'message_ack' : ErrorCode.BAD_REQUEST, JSON.stringify(other));
    }
  });

  it('a user at the limit does not pass their 4008 to another user sending the same message_id at the same moment', async () => {
    // On PostgreSQL the store is asked asynchronously, so the agent's send arrives while the user's is being refused.
    const conv = uniqueId('cust');
    const user = await connectAs(servers[0]!.wsUrl, { sub: conv });
    const agent = await connectAs(servers[0]!.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    await Promise.all([user.join(conv), agent.join(conv)]);
    const ids = Array.from({ length: 30 }, (_, i) => user.postMessage(conv, `m${i}`));
    await Promise.all(ids.map((id) => user.next(is.answerTo(id), 10_000)));
    for (let trial = 0; trial < 5; trial++) {
      const id = newMessageId();
      user.postMessage(conv, 'over the limit', id);
      agent.postMessage(conv, 'the agent\'s own words', id);
      const [refused, answer] = await Promise.all([user.next(is.answerTo(id), 10_000), agent.next(is.answerTo(id), 10_000)]);
      // When the agent's copy is stored first, the user's is refused for the id it reuses (the store is asked before the limit).
      assert.ok([ErrorCode.RATE_LIMITED, ErrorCode.BAD_REQUEST].includes(refused.payload.code), JSON.stringify(refused));
      assert.equal(answer.type, 'message_ack', `trial ${trial}: the agent is not limited: ${JSON.stringify(answer)}`);
    }
  });

  it('two users sending one message_id at the same moment: the one whose words were stored gets the ack, the other only a 4000', async () => {
    // On PostgreSQL both sends are stored concurrently; the loser's connection also gets the winner's new_message.
    for (let trial = 0; trial < 12; trial++) {
      const conv = uniqueId('cust');
      const user = await connectAs(servers[0]!.wsUrl, { sub: conv });
      const agent = await connectAs(servers[0]!.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      await Promise.all([user.join(conv), agent.join(conv)]);
      const id = newMessageId();
      user.postMessage(conv, 'the user\'s words', id);
      agent.postMessage(conv, 'the agent\'s words', id);
      await Promise.all([user.next(is.answerTo(id), 10_000), agent.next(is.answerTo(id), 10_000)]);
      await sleep(200); // anything more for that id would have come by now
      const answers = [user, agent].map((c) => c.log.filter(is.answerTo(id)).map((f) => (f.type === 'error' ? f.payload.code : f.type)));
      const acked = answers.filter((a) => a.includes('message_ack'));
      assert.equal(acked.length, 1, `trial ${trial}: exactly one sender is acked: ${JSON.stringify(answers)}`);
      assert.deepEqual(answers.find((a) => !a.includes('message_ack')), [ErrorCode.BAD_REQUEST], `trial ${trial}: ${JSON.stringify(answers)}`);
      user.close();
      agent.close();
    }
  });

  it('closes the older connection of a (user, device) on instance A with 4009 when a newer one authenticates on instance B', async () => {
    const [a, b, c] = servers;
    const sub = uniqueId('cust');
    const older = await connectAs(a!.wsUrl, { sub, device_id: 'laptop' });
    const otherDevice = await connectAs(a!.wsUrl, { sub, device_id: 'phone' });
    const newer = await connectAs(b!.wsUrl, { sub, device_id: 'laptop' });
    const closed = await older.waitClosed(5000);
    assert.equal(closed.code, 4009);
    await newer.roundTrip();
    await otherDevice.roundTrip();
    // And back the other way, through a third instance.
    const newest = await connectAs(c!.wsUrl, { sub, device_id: 'laptop' });
    assert.equal((await newer.waitClosed(5000)).code, 4009);
    await newest.roundTrip();
    await sleep(300);
    assert.ok(newest.isOpen && otherDevice.isOpen, 'only the older connection of that device is closed');
  });

  it('when an instance is killed with -9 while its clients send, they continue on another instance: nothing acked is lost, nothing doubled', async () => {
    // A fourth instance, the one that dies.
    const victim = await startServer({ DATABASE_URL: pg.url, REDIS_URL: redis.url, LOG_LEVEL: 'warn' });
    const survivor = servers[0]!;
    const conv = uniqueId('crash');
    const watcher = await connectAs(servers[1]!.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    await watcher.join(conv);
    // Two senders on the victim: the user and an agent (a rate limit of 30 a minute each).
    const senders = [{ sub: conv, role: 'user' }, { sub: uniqueId('agent'), role: 'agent' }];
    const TOTAL = 25;
    const outboxes = senders.map(() => Array.from({ length: TOTAL }, () => newMessageId()));
    const acked = new Map<string, number>();
    const clients = await Promise.all(senders.map((s) => connectAs(victim.wsUrl, s)));
    await Promise.all(clients.map((c) => c.join(conv)));
    const record = (frames: Frame[]) => {
      for (const f of frames) if (f.type === 'message_ack' && f.payload.status === 'received' && f.payload.seq) acked.set(f.payload.message_id, f.payload.seq);
    };

    // Both send one message every 15 ms; the instance dies in the middle.
    let sent = 0;
    const sending = (async () => {
      for (; sent < TOTAL; sent++) {
        clients.forEach((c, k) => c.isOpen && c.postMessage(conv, `crash ${sent}`, outboxes[k]![sent]!));
        await sleep(15);
      }
    })();
    await sleep(150);
    await victim.kill();
    await sending;
    await Promise.all(clients.map((c) => c.closed));
    for (const c of clients) record(c.log);
    const ackedBeforeCrash = new Map(acked);
    assert.ok(ackedBeforeCrash.size > 0, 'some messages were acked before the crash');
    assert.ok(ackedBeforeCrash.size < 2 * TOTAL, 'the crash happened while sending');

    // The watcher on another instance lost nothing: its socket stayed open.
    await watcher.roundTrip();

    // The clients reconnect to another instance, join from their last seq, and resend every unacked message (the outbox).
    const reconnected = await Promise.all(senders.map((s) => connectAs(survivor.wsUrl, s)));
    for (const [k, client] of reconnected.entries()) {
      const lastSeq = Math.max(0, ...clients[k]!.log.filter(is.newMessage(conv)).map((f) => f.payload.seq as number));
      await client.join(conv, lastSeq);
      const unacked = outboxes[k]!.filter((id) => !ackedBeforeCrash.has(id));
      // Also one that was acked, as a client that lost the ack would: it must come back with the same seq.
      const resend = [outboxes[k]!.find((id) => ackedBeforeCrash.has(id)), ...unacked].filter((id): id is string => id !== undefined);
      for (const id of resend) client.postMessage(conv, 'retry', id);
      const answers = await Promise.all(resend.map((id) => client.next(is.answerTo(id), 10_000)));
      for (const answer of answers) assert.equal(answer.type, 'message_ack', JSON.stringify(answer));
      record(answers);
    }
    for (const [id, seq] of ackedBeforeCrash) assert.equal(acked.get(id), seq, 'a retry of an acked message gets its first seq');

    // The store holds every message exactly once, seq gapless; the watcher saw each once, in order.
    const rows = (await psql(pg.port, `select message_id || ' ' || seq from messages where conversation_id = '${conv}' order by seq`)).trim().split('\n');
    assert.equal(rows.length, 2 * TOTAL, 'every message stored, none twice');
    assert.deepEqual(rows.map((r) => Number(r.split(' ')[1])), range(2 * TOTAL));
    for (const row of rows) {
      const [id, seq] = row.split(' ');
      assert.equal(acked.get(id!), Number(seq), 'acked with the stored seq');
    }
    const seen = await receivedMessages(watcher, conv, 2 * TOTAL);
    assert.deepEqual(seqs(seen), range(2 * TOTAL));
  });

  it('sends only frames that match the protocol\'s schemas', () => {
    assert.deepEqual(schemaViolations(), []);
  });
});

describe('scale-out configuration', () => {
  it('refuses SQLite with REDIS_URL at start, naming both variables', async () => {
    await assert.rejects(startServer({ DATABASE_URL: 'sqlite::memory:', REDIS_URL: 'redis://127.0.0.1:1' }), (error: Error) => {
      assert.match(error.message, /exited before it was ready \(code 1/);
      assert.match(error.message, /REDIS_URL/);
      assert.match(error.message, /DATABASE_URL/);
      assert.match(error.message, /would not share a store/);
      return true;
    });
  });

  it('refuses to start when PostgreSQL cannot be reached, with a message naming DATABASE_URL', async () => {
    await assert.rejects(startServer({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/live_chat', LOG_LEVEL: 'warn' }, { timeoutMs: 30_000 }), (error: Error) => {
      assert.match(error.message, /exited before it was ready \(code 1/);
      assert.match(error.message, /PostgreSQL at 127\.0\.0\.1:1\/live_chat \(DATABASE_URL\)/);
      return true;
    });
  });
});
