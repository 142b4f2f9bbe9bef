// Black-box tests of durability with a file database (PROTOCOL.md "Messages": the server
// stores a message before it answers; "History and offline delivery": nothing is lost):
// a restart keeps history, read positions and idempotency, seq continues, and kill -9 right
// after the acks loses none of the acknowledged messages.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer } from '../helpers/server-process.js';
import type { ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { closeAllClients, connectAs, is, schemaViolations, uniqueId } from '../helpers/ws-client.js';
import type { Frame } from '../helpers/ws-client.js';

describe('server persistence with a file database', () => {
  const servers: ServerProcess[] = [];
  const start = async (env: Record<string, string>): Promise<ServerProcess> => {
    const s = await startServer(env);
    servers.push(s);
    return s;
  };

  after(async () => {
    await closeAllClients();
    for (const s of servers) await s.kill();
  });

  it('a restart keeps history, read positions and idempotency; seq continues', async () => {
    const dir = await makeTempDir('live-chat-db-');
    const env = { DATABASE_URL: `sqlite:${join(dir, 'chat.db')}` };
    const conv = uniqueId('cust');
    const agentId = uniqueId('agent');

    const first = await start(env);
    const user = await connectAs(first.wsUrl, { sub: conv });
    const agent = await connectAs(first.wsUrl, { sub: agentId, role: 'agent' });
    await user.join(conv);
    await agent.join(conv);
    const acks: Frame[] = [];
    acks.push(await user.sendMessage(conv, 'hello before restart'));
    acks.push(await agent.sendMessage(conv, '  reply, untrimmed  '));
    acks.push(await user.sendMessage(conv, 'third'));
    for (const ack of acks) assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
    const messages = await Promise.all(acks.map((a) => user.next(is.newMessage(conv, a.payload.message_id))));
    agent.markRead(acks[2]!.payload.message_id);
    await user.next(is.readAck(acks[2]!.payload.message_id));
    const exit = await first.stop('SIGTERM');
    assert.equal(exit.code, 0);

    const second = await start(env);
    const userAgain = await connectAs(second.wsUrl, { sub: conv });
    const { history } = await userAgain.join(conv, 0);
    assert.deepEqual(history?.payload.messages, messages.map((m) => m.payload), 'every message, with the same seq, created_at and content');
    assert.equal(history?.payload.last_seq, 3);
    assert.equal(history?.payload.peer_read_seq, 3, 'the agent read position survived');

    const retry = await userAgain.sendMessage(conv, 'third', acks[2]!.payload.message_id);
    assert.deepEqual(retry.payload, acks[2]!.payload, 'a retry after the restart gets the same ack');
    const fourth = await userAgain.sendMessage(conv, 'after restart');
    assert.equal(fourth.type, 'message_ack');
    assert.equal(fourth.payload.seq, 4, 'seq continues');
    assert.ok(Date.parse(fourth.payload.created_at) >= Date.parse(acks[2]!.payload.created_at));
    await second.stop();
  });

  it('kill -9 right after the acks loses none of the acknowledged messages', async () => {
    const dir = await makeTempDir('live-chat-db-');
    const env = { DATABASE_URL: `sqlite:${join(dir, 'chat.db')}` };
    const conv = uniqueId('cust');

    const first = await start(env);
    const agents = await Promise.all([0, 1].map(() => connectAs(first.wsUrl, { sub: uniqueId('agent'), role: 'agent' })));
    await Promise.all(agents.map((a) => a.join(conv)));
    const ids = agents.flatMap((a, n) => Array.from({ length: 20 }, (_, i) => ({ a, id: a.postMessage(conv, `crash test ${n}-${i}`) })));
    const acks = await Promise.all(ids.map(({ a, id }) => a.next(is.answerTo(id), 10_000)));
    await first.kill(); // SIGKILL at once: no graceful shutdown, no flush
    for (const ack of acks) assert.equal(ack.type, 'message_ack', JSON.stringify(ack));

    const second = await start(env);
    const agent = await connectAs(second.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    const { history } = await agent.join(conv, 0);
    const stored = new Map((history?.payload.messages as { message_id: string; seq: number; created_at: string }[]).map((m) => [m.message_id, m]));
    for (const ack of acks) {
      const m = stored.get(ack.payload.message_id);
      assert.ok(m, `acked message ${ack.payload.message_id} (seq ${ack.payload.seq}) was lost`);
      assert.equal(m.seq, ack.payload.seq);
      assert.equal(m.created_at, ack.payload.created_at);
    }
    assert.equal(history?.payload.last_seq, 40);
    const next = await agent.sendMessage(conv, 'after the crash');
    assert.equal(next.payload.seq, 41);
    await second.stop();
  });
});

describe('frames received in this file', () => {
  it('every server frame matched the protocol schemas (envelope with timestamp, exact payload fields)', () => {
    assert.deepEqual(schemaViolations(), []);
  });
});
