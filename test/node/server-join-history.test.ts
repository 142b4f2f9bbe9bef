// Black-box tests of join_room / leave_room / history (PROTOCOL.md "Conversations and
// authorization", "History and offline delivery").
//
// The server runs with RATE_LIMIT_PER_MINUTE raised so that 520 messages can be stored
// quickly through the socket (the rate limit itself is tested in server-limits).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/index.js';
import { startServer } from '../helpers/server-process.js';
import type { ServerProcess } from '../helpers/server-process.js';
import { closeAllClients, connectAs, is, schemaViolations, uniqueId } from '../helpers/ws-client.js';
import type { Frame, TestClient } from '../helpers/ws-client.js';

const TOTAL = 520;

/** Sends `n` messages at once and resolves with their new_message payloads, by seq. */
async function sendMany(client: TestClient, conversationId: string, n: number, prefix: string): Promise<Frame['payload'][]> {
  const ids = Array.from({ length: n }, (_, i) => client.postMessage(conversationId, `${prefix} ${i}`));
  const acks = await Promise.all(ids.map((id) => client.next(is.answerTo(id), 30_000)));
  for (const ack of acks) assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
  const messages = await Promise.all(ids.map((id) => client.next(is.newMessage(conversationId, id), 30_000)));
  return messages.map((m) => m.payload).sort((a, b) => a.seq - b.seq);
}

const seqs = (history: Frame | undefined): number[] => (history?.payload.messages as { seq: number }[]).map((m) => m.seq);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function assertForbidden(frame: Frame, messageId: string): void {
  assert.equal(frame.type, 'error', JSON.stringify(frame));
  assert.equal(frame.payload.code, ErrorCode.FORBIDDEN);
  assert.equal(frame.payload.reason, 'FORBIDDEN');
  assert.equal(frame.payload.retryable, false);
  assert.equal(frame.payload.message_id, messageId);
  assert.equal(typeof frame.payload.message, 'string');
}

function assertNotInRoom(frame: Frame, messageId: string): void {
  assert.equal(frame.type, 'error', JSON.stringify(frame));
  assert.equal(frame.payload.code, ErrorCode.NOT_IN_ROOM);
  assert.equal(frame.payload.reason, 'NOT_IN_ROOM');
  assert.equal(frame.payload.retryable, true);
  assert.equal(frame.payload.message_id, messageId);
}

function assertBadRequest(frame: Frame, messageId: string): void {
  assert.equal(frame.type, 'error', JSON.stringify(frame));
  assert.equal(frame.payload.code, ErrorCode.BAD_REQUEST);
  assert.equal(frame.payload.reason, 'BAD_REQUEST');
  assert.equal(frame.payload.retryable, false);
  assert.equal(frame.payload.message_id, messageId);
}

describe('server join_room, leave_room and history', () => {
  let server: ServerProcess;
  /** The end user whose conversation holds TOTAL messages. */
  const bigUser = uniqueId('big');
  const agentId = uniqueId('agent');
  /** new_message payloads of the big conversation, index = seq - 1. */
  let stored: Frame['payload'][] = [];

  before(async () => {
    server = await startServer({ RATE_LIMIT_PER_MINUTE: '100000' });
    const agent = await connectAs(server.wsUrl, { sub: agentId, role: 'agent' });
    const { history } = await agent.join(bigUser);
    assert.equal(history?.payload.last_seq, 0);
    stored = await sendMany(agent, bigUser, TOTAL, 'bulk');
    assert.deepEqual(stored.map((m) => m.seq), range(1, TOTAL), 'setup: seq 1..N');
    await agent.close();
  });
  after(async () => {
    await closeAllClients();
    await server?.stop();
  });

  const expected = (from: number, to: number): Frame['payload'][] => stored.slice(from - 1, to);

  it('acks a join with exactly {message_id, status: "received"}, then sends history of an empty conversation', async () => {
    const sub = uniqueId('empty');
    const user = await connectAs(server.wsUrl, { sub });
    const { id, ack, history } = await user.join(sub);
    assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
    assert.deepEqual(ack.payload, { message_id: id, status: 'received' });
    assert.ok(history, 'a history frame follows the ack');
    assert.deepEqual(history.payload, { conversation_id: sub, messages: [], has_more: false, last_seq: 0, read_seq: 0, peer_read_seq: 0 });
    assert.ok(user.log.indexOf(ack) < user.log.indexOf(history), 'the ack comes before the history frame');
    assert.deepEqual(user.invalid, []);
  });

  it('lets a user join only the conversation whose id is its own user_id (else 4003 FORBIDDEN)', async () => {
    const sub = uniqueId('user');
    const user = await connectAs(server.wsUrl, { sub });
    const { id, ack, history } = await user.join(bigUser);
    assertForbidden(ack, id);
    assert.equal(history, undefined);
    await user.roundTrip();
    assert.equal(user.log.filter(is.history(bigUser)).length, 0, 'no history of a forbidden conversation');
    // The refused join did not join: sending there is NOT_IN_ROOM (or FORBIDDEN), never stored.
    const sendId = user.postMessage(bigUser, 'sneaky');
    const answer = await user.next(is.answerTo(sendId));
    assert.equal(answer.type, 'error', JSON.stringify(answer));
    assert.ok([ErrorCode.NOT_IN_ROOM, ErrorCode.FORBIDDEN].includes(answer.payload.code), JSON.stringify(answer));
    // Its own conversation is fine.
    assert.equal((await user.join(sub)).ack.type, 'message_ack');
  });

  it('refuses a user joining a conversation id that merely starts with its own id', async () => {
    const sub = uniqueId('prefix');
    const user = await connectAs(server.wsUrl, { sub });
    const { id, ack } = await user.join(`${sub}x`);
    assertForbidden(ack, id);
  });

  it('lets an agent join any conversation, and several at once', async () => {
    const agent = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    const a = await agent.join(uniqueId('conv'));
    const b = await agent.join(bigUser);
    assert.equal(a.ack.type, 'message_ack');
    assert.equal(b.ack.type, 'message_ack');
    assert.equal(b.history?.payload.last_seq, TOTAL);
  });

  it('refuses a join with an invalid conversation_id or last_seq with 4000', async () => {
    const agent = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    const { id, ack } = await agent.join('not valid!');
    assertBadRequest(ack, id);
    const long = await agent.join('c'.repeat(129));
    assertBadRequest(long.ack, long.id);
    const negative = await agent.join(uniqueId('conv'), -1);
    assertBadRequest(negative.ack, negative.id);
    const fractional = await agent.join(uniqueId('conv'), 1.5);
    assertBadRequest(fractional.ack, fractional.id);
    await agent.roundTrip();
  });

  describe('history sent after join_room', () => {
    it('last_seq 0: the oldest 500, has_more true, last_seq = highest seq', async () => {
      const user = await connectAs(server.wsUrl, { sub: bigUser });
      const { history } = await user.join(bigUser, 0);
      assert.ok(history);
      assert.deepEqual(history.payload.messages, expected(1, 500));
      assert.equal(history.payload.has_more, true);
      assert.equal(history.payload.last_seq, TOTAL);
      assert.equal(history.payload.conversation_id, bigUser);
      assert.deepEqual(user.invalid, []);
    });

    it('last_seq 10: seq 11..510, has_more true', async () => {
      const user = await connectAs(server.wsUrl, { sub: bigUser });
      const { history } = await user.join(bigUser, 10);
      assert.deepEqual(seqs(history), range(11, 510));
      assert.deepEqual(history?.payload.messages, expected(11, 510));
      assert.equal(history?.payload.has_more, true);
    });

    it('last_seq 20 (exactly 500 remain): seq 21..520, has_more false', async () => {
      const user = await connectAs(server.wsUrl, { sub: bigUser });
      const { history } = await user.join(bigUser, 20);
      assert.deepEqual(seqs(history), range(21, 520));
      assert.equal(history?.payload.has_more, false);
    });

    it('last_seq 400: seq 401..520, has_more false', async () => {
      const user = await connectAs(server.wsUrl, { sub: bigUser });
      const { history } = await user.join(bigUser, 400);
      assert.deepEqual(history?.payload.messages, expected(401, TOTAL));
      assert.equal(history?.payload.has_more, false);
      assert.equal(history?.payload.last_seq, TOTAL);
    });

    it('last_seq equal to the highest seq: no messages, has_more false', async () => {
      const user = await connectAs(server.wsUrl, { sub: bigUser });
      const { history } = await user.join(bigUser, TOTAL);
      assert.deepEqual(history?.payload.messages, []);
      assert.equal(history?.payload.has_more, false);
      assert.equal(history?.payload.last_seq, TOTAL);
    });

    it('no last_seq: the newest 50 in ascending order', async () => {
      const user = await connectAs(server.wsUrl, { sub: bigUser });
      const { history } = await user.join(bigUser);
      assert.deepEqual(history?.payload.messages, expected(TOTAL - 49, TOTAL));
      assert.equal(history?.payload.last_seq, TOTAL);
    });

    it('last_seq above the conversation\'s (store reset): the newest 50 and the real last_seq', async () => {
      const user = await connectAs(server.wsUrl, { sub: bigUser });
      const { history } = await user.join(bigUser, 99_999);
      assert.deepEqual(seqs(history), range(TOTAL - 49, TOTAL));
      assert.equal(history?.payload.last_seq, TOTAL);
    });

    it('a short conversation without last_seq: all of it', async () => {
      const sub = uniqueId('short');
      const user = await connectAs(server.wsUrl, { sub });
      await user.join(sub);
      const sent = await sendMany(user, sub, 3, 'short');
      const again = await connectAs(server.wsUrl, { sub });
      const { history } = await again.join(sub);
      assert.deepEqual(history?.payload.messages, sent);
      assert.equal(history?.payload.has_more, false);
      assert.equal(history?.payload.last_seq, 3);
    });
  });

  describe('history requests', () => {
    let agent: TestClient;
    before(async () => {
      agent = await connectAs(server.wsUrl, { sub: uniqueId('hist-agent'), role: 'agent' });
      await agent.join(bigUser);
    });

    it('answers with one history frame carrying the request\'s message_id; default: the newest 50', async () => {
      const frame = await agent.history({ conversation_id: bigUser });
      assert.equal(frame.type, 'history', JSON.stringify(frame));
      assert.match(frame.message_id ?? '', /^[0-9a-f-]{36}$/);
      assert.deepEqual(frame.payload.messages, expected(TOTAL - 49, TOTAL));
      assert.equal(frame.payload.has_more, true, 'older messages exist');
      assert.equal(frame.payload.last_seq, TOTAL);
      assert.equal(frame.payload.conversation_id, bigUser);
      assert.deepEqual(agent.invalid, []);
    });

    it('limit without a cursor: the newest `limit`', async () => {
      const frame = await agent.history({ conversation_id: bigUser, limit: 10 });
      assert.deepEqual(seqs(frame), range(TOTAL - 9, TOTAL));
      assert.equal(frame.payload.has_more, true);
    });

    it('before_seq: the newest `limit` below it, has_more while older remain', async () => {
      const page = await agent.history({ conversation_id: bigUser, before_seq: 100, limit: 20 });
      assert.deepEqual(page.payload.messages, expected(80, 99));
      assert.equal(page.payload.has_more, true);
      const first = await agent.history({ conversation_id: bigUser, before_seq: 5, limit: 10 });
      assert.deepEqual(seqs(first), [1, 2, 3, 4]);
      assert.equal(first.payload.has_more, false);
      const exact = await agent.history({ conversation_id: bigUser, before_seq: 11, limit: 10 });
      assert.deepEqual(seqs(exact), range(1, 10));
      assert.equal(exact.payload.has_more, false, 'nothing exists below seq 1');
    });

    it('after_seq: the oldest `limit` above it, has_more while newer remain', async () => {
      const page = await agent.history({ conversation_id: bigUser, after_seq: 0, limit: 100 });
      assert.deepEqual(page.payload.messages, expected(1, 100));
      assert.equal(page.payload.has_more, true);
      const tail = await agent.history({ conversation_id: bigUser, after_seq: 500, limit: 100 });
      assert.deepEqual(seqs(tail), range(501, TOTAL));
      assert.equal(tail.payload.has_more, false);
      const exact = await agent.history({ conversation_id: bigUser, after_seq: TOTAL - 20, limit: 20 });
      assert.deepEqual(seqs(exact), range(TOTAL - 19, TOTAL));
      assert.equal(exact.payload.has_more, false);
      const none = await agent.history({ conversation_id: bigUser, before_seq: 1 });
      assert.deepEqual(none.payload.messages, []);
      assert.equal(none.payload.has_more, false);
      const beyond = await agent.history({ conversation_id: bigUser, after_seq: TOTAL });
      assert.deepEqual(beyond.payload.messages, []);
      assert.equal(beyond.payload.has_more, false);
    });

    it('after_seq with the default limit returns 50', async () => {
      const page = await agent.history({ conversation_id: bigUser, after_seq: 200 });
      assert.deepEqual(seqs(page), range(201, 250));
      assert.equal(page.payload.has_more, true);
    });

    it('refuses limit 0, limit 101 and both cursors with 4000 carrying the message_id, and keeps the connection', async () => {
      for (const bad of [
        { conversation_id: bigUser, limit: 0 },
        { conversation_id: bigUser, limit: 101 },
        { conversation_id: bigUser, before_seq: 10, after_seq: 2 },
      ]) {
        const frame = await agent.history(bad);
        assert.equal(frame.type, 'error', `${JSON.stringify(bad)} -> ${JSON.stringify(frame)}`);
        assertBadRequest(frame, frame.payload.message_id);
      }
      await agent.roundTrip();
    });

    it('limit 100 is accepted', async () => {
      const frame = await agent.history({ conversation_id: bigUser, before_seq: 301, limit: 100 });
      assert.deepEqual(seqs(frame), range(201, 300));
    });

    it('refuses history of a conversation not joined with 4005 NOT_IN_ROOM', async () => {
      const other = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      const frame = await other.history({ conversation_id: bigUser, limit: 5 });
      assert.equal(frame.type, 'error', JSON.stringify(frame));
      assertNotInRoom(frame, frame.payload.message_id);
      assert.ok(other.log.every((f) => f.type !== 'history'), 'no history frame leaked');
    });
  });

  describe('leave_room', () => {
    it('acks with {message_id, status: "received"}; afterwards send and history get 4005 and no new_message arrives', async () => {
      const sub = uniqueId('leaver');
      const agent = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      const user = await connectAs(server.wsUrl, { sub });
      await agent.join(sub);
      await user.join(sub);
      const ack = await agent.leave(sub);
      assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
      assert.deepEqual(ack.payload, { message_id: ack.payload.message_id, status: 'received' });
      assert.match(ack.payload.message_id, /^[0-9a-f-]{36}$/);

      const sendId = agent.postMessage(sub, 'after leaving');
      assertNotInRoom(await agent.next(is.answerTo(sendId)), sendId);
      const hist = await agent.history({ conversation_id: sub });
      assertNotInRoom(hist, hist.payload.message_id);

      const userAck = await user.sendMessage(sub, 'are you there?');
      assert.equal(userAck.type, 'message_ack');
      await user.next(is.newMessage(sub, userAck.payload.message_id));
      const leaked = await agent.collect(is.newMessage(sub), 300);
      assert.deepEqual(leaked, [], 'a left room delivers nothing');
    });
  });

  describe('offline delivery', () => {
    it('messages sent while the user is offline arrive in the history of its next join with last_seq', async () => {
      const sub = uniqueId('offline');
      const user = await connectAs(server.wsUrl, { sub });
      await user.join(sub);
      const own = await user.sendMessage(sub, 'hello, anyone?');
      assert.equal(own.type, 'message_ack');
      const lastSeq: number = own.payload.seq;
      await user.close();

      const agent = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      await agent.join(sub);
      const replies = await sendMany(agent, sub, 3, 'reply while you were away');

      const back = await connectAs(server.wsUrl, { sub });
      const { history } = await back.join(sub, lastSeq);
      assert.deepEqual(history?.payload.messages, replies);
      assert.equal(history?.payload.has_more, false);
      assert.equal(history?.payload.last_seq, lastSeq + 3);
      for (const m of replies) {
        assert.equal(m.sender_role, 'agent');
        assert.equal(m.conversation_id, sub);
      }
    });
  });
});

describe('frames received in this file', () => {
  it('every server frame matched the protocol schemas (envelope with timestamp, exact payload fields)', () => {
    assert.deepEqual(schemaViolations(), []);
  });
});
