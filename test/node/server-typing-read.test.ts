// Black-box tests of typing indicators and read receipts (PROTOCOL.md "Typing and read receipts",
// and read_seq / peer_read_seq in "History and offline delivery").
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, newMessageId } from '../../src/protocol/index.js';
import { serverForSuite } from '../helpers/suite.js';
import { connectAs, is, schemaViolations, sleep, uniqueId, joinedPair } from '../helpers/ws-client.js';

describe('server typing and read receipts', () => {
  const server = serverForSuite();

  const pair = () => joinedPair(server.wsUrl);

  describe('typing', () => {
    it('forwards {conversation_id, user_id, is_typing} to the other connections only', async () => {
      const { conv, user, agent } = await pair();
      const user2 = await connectAs(server.wsUrl, { sub: conv });
      await user2.join(conv);
      user.typing(conv, true);
      const got = await agent.next(is.typing(conv));
      assert.deepEqual(got.payload, { conversation_id: conv, user_id: conv, is_typing: true });
      const got2 = await user2.next(is.typing(conv));
      assert.deepEqual(got2.payload, { conversation_id: conv, user_id: conv, is_typing: true }, "the user's other socket is another connection");
      assert.deepEqual(await user.collect(is.typing(), 300), [], 'not echoed to the sender');
      assert.deepEqual(agent.invalid, []);
    });

    it('forwards at most one is_typing:true per user per conversation per second; false is always forwarded', async () => {
      const { conv, user, agent, agentId } = await pair();
      const started = Date.now();
      for (let i = 0; i < 5; i++) user.typing(conv, true);
      user.typing(conv, false);
      user.typing(conv, true); // still within the second: dropped
      user.typing(conv, false);
      await user.roundTrip();
      const burst = await agent.collect(is.typing(conv), 400);
      assert.ok(Date.now() - started < 1000, 'the burst was judged within one second');
      assert.deepEqual(
        burst.map((f) => f.payload.is_typing),
        [true, false, false],
        `forwarded: ${JSON.stringify(burst.map((f) => f.payload))}`,
      );
      // Another user's typing in the same second is throttled separately.
      agent.typing(conv, true);
      const fromAgent = await user.next(is.typing(conv));
      assert.deepEqual(fromAgent.payload, { conversation_id: conv, user_id: agentId, is_typing: true });
      // After the second has passed, true is forwarded again.
      await sleep(Math.max(0, started + 1100 - Date.now()));
      user.typing(conv, true);
      const again = await agent.next(is.typing(conv), 2_000);
      assert.equal(again.payload.is_typing, true);
    });

    it('does not forward typing from a connection that has not joined (or may not join) the conversation', async () => {
      const { conv, user, agent } = await pair();
      const stranger = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      const otherUser = await connectAs(server.wsUrl, { sub: uniqueId('cust') });
      stranger.typing(conv, true);
      otherUser.typing(conv, true);
      await stranger.roundTrip();
      await otherUser.roundTrip();
      const leaked = [...(await user.collect(is.typing(), 300)), ...agent.take(is.typing())];
      assert.deepEqual(leaked, [], 'typing leaked into a room the sender is not in');
    });

    it('throttles per conversation: typing in two conversations is forwarded in both', async () => {
      const agent = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      const a = uniqueId('ta');
      const b = uniqueId('tb');
      const userA = await connectAs(server.wsUrl, { sub: a });
      const userB = await connectAs(server.wsUrl, { sub: b });
      await agent.join(a);
      await agent.join(b);
      await userA.join(a);
      await userB.join(b);
      agent.typing(a, true);
      agent.typing(b, true);
      assert.equal((await userA.next(is.typing(a))).payload.is_typing, true);
      assert.equal((await userB.next(is.typing(b))).payload.is_typing, true);
      assert.deepEqual(userA.log.filter(is.typing(b)), [], 'typing stays in its room');
    });
  });

  describe('read receipts', () => {
    it('stores the read position, forwards {message_id, status: "read", user_id, conversation_id, seq} to the others, and reports it in later history', async () => {
      const { conv, user, agent, agentId } = await pair();
      const ids: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const ack = await agent.sendMessage(conv, `message ${i}`);
        assert.equal(ack.payload.seq, i);
        ids.push(ack.payload.message_id);
      }
      await user.next(is.newMessage(conv, ids[2]));

      user.markRead(ids[1]!);
      const fwd = await agent.next(is.readAck(ids[1]));
      assert.deepEqual(fwd.payload, { message_id: ids[1], status: 'read', user_id: conv, conversation_id: conv, seq: 2 });
      assert.deepEqual(await user.collect(is.readAck(), 300), [], 'not echoed to the reader');
      assert.deepEqual(agent.invalid, []);

      // The user's later join: read_seq is its own position; the agent has read nothing yet.
      const userAgain = await connectAs(server.wsUrl, { sub: conv });
      const u = await userAgain.join(conv);
      assert.equal(u.history?.payload.read_seq, 2);
      assert.equal(u.history?.payload.peer_read_seq, 0);
      // The agent's later join: peer_read_seq is the user's position.
      const agentAgain = await connectAs(server.wsUrl, { sub: agentId, role: 'agent' });
      const a = await agentAgain.join(conv);
      assert.equal(a.history?.payload.peer_read_seq, 2);
      assert.equal(a.history?.payload.read_seq, 0);

      // The agent reads everything; the user now sees peer_read_seq 3.
      agent.markRead(ids[2]!);
      const toUser = await user.next(is.readAck(ids[2]));
      assert.deepEqual(toUser.payload, { message_id: ids[2], status: 'read', user_id: agentId, conversation_id: conv, seq: 3 });
      const userThird = await connectAs(server.wsUrl, { sub: conv });
      const u3 = await userThird.join(conv);
      assert.equal(u3.history?.payload.read_seq, 2);
      assert.equal(u3.history?.payload.peer_read_seq, 3);
    });

    it("forwards a read receipt to the reader's other connections too (they are other connections)", async () => {
      const { conv, user, agent } = await pair();
      const user2 = await connectAs(server.wsUrl, { sub: conv });
      await user2.join(conv);
      const ack = await agent.sendMessage(conv, 'read me');
      user.markRead(ack.payload.message_id);
      const synced = await user2.next(is.readAck(ack.payload.message_id));
      assert.equal(synced.payload.user_id, conv);
      assert.equal(synced.payload.seq, ack.payload.seq);
      await agent.next(is.readAck(ack.payload.message_id));
    });

    it('a read position only moves forward', async () => {
      const { conv, user, agent } = await pair();
      const ids: string[] = [];
      for (let i = 1; i <= 3; i++) ids.push((await agent.sendMessage(conv, `m${i}`)).payload.message_id);
      user.markRead(ids[2]!);
      await agent.next(is.readAck(ids[2]));
      user.markRead(ids[0]!);
      await user.roundTrip();
      await sleep(100);
      const again = await connectAs(server.wsUrl, { sub: conv });
      const { history } = await again.join(conv);
      assert.equal(history?.payload.read_seq, 3);
    });

    it('peer_read_seq is the highest read position of anyone else', async () => {
      const { conv, user, agent } = await pair();
      const agent2 = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      await agent2.join(conv);
      const ids: string[] = [];
      for (let i = 1; i <= 4; i++) ids.push((await user.sendMessage(conv, `m${i}`)).payload.message_id);
      agent.markRead(ids[3]!);
      agent2.markRead(ids[1]!);
      await user.next(is.readAck(ids[3]));
      await user.next(is.readAck(ids[1]));
      const again = await connectAs(server.wsUrl, { sub: conv });
      const { history } = await again.join(conv);
      assert.equal(history?.payload.peer_read_seq, 4);
      assert.equal(history?.payload.read_seq, 0, 'the user read nothing itself');
    });

    it('an unknown message_id gets 4000 BAD_REQUEST (with the envelope message_id) and the connection is kept', async () => {
      const { user, agent } = await pair();
      const envelopeId = newMessageId();
      user.markRead(newMessageId(), envelopeId);
      const err = await user.next(is.error());
      assert.equal(err.payload.code, ErrorCode.BAD_REQUEST, JSON.stringify(err));
      assert.equal(err.payload.reason, 'BAD_REQUEST');
      assert.equal(err.payload.retryable, false);
      assert.equal(err.payload.message_id, envelopeId, 'an error answering a frame with a message_id carries it');
      await user.roundTrip();
      assert.deepEqual(agent.log.filter(is.readAck()), [], 'nothing forwarded');
    });

    it('a read receipt sent without an envelope message_id is answered with the id it carries (the message read), so its error can be tied to it', async () => {
      const { conv, user, agent } = await pair();
      const unknown = newMessageId();
      user.markRead(unknown);
      const bad = await user.next(is.error());
      assert.equal(bad.payload.code, ErrorCode.BAD_REQUEST, JSON.stringify(bad));
      assert.equal(bad.payload.message_id, unknown);
      const ack = await agent.sendMessage(conv, 'hello');
      const stranger = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      stranger.markRead(ack.payload.message_id);
      const notIn = await stranger.next(is.error());
      assert.equal(notIn.payload.code, ErrorCode.NOT_IN_ROOM, JSON.stringify(notIn));
      assert.equal(notIn.payload.message_id, ack.payload.message_id);
    });

    it('a read receipt for a conversation not joined gets 4005', async () => {
      const { conv, agent } = await pair();
      const ack = await agent.sendMessage(conv, 'hello');
      const stranger = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      const envelopeId = newMessageId();
      stranger.markRead(ack.payload.message_id, envelopeId);
      const err = await stranger.next(is.error());
      assert.equal(err.payload.code, ErrorCode.NOT_IN_ROOM, JSON.stringify(err));
      assert.equal(err.payload.retryable, true);
      assert.equal(err.payload.message_id, envelopeId);
    });
  });
});

describe('frames received in this file', () => {
  it('every server frame matched the protocol schemas (envelope with timestamp, exact payload fields)', () => {
    assert.deepEqual(schemaViolations(), []);
  });
});
