// Black-box tests of send_message idempotency (PROTOCOL.md "Messages", Idempotency):
// retries of a stored message_id get the same ack, are stored once and received once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, newMessageId } from '../../src/protocol/index.js';
import { serverForSuite } from '../helpers/suite.js';
import { connectAs, is, schemaViolations, uniqueId } from '../helpers/ws-client.js';

describe('server send_message idempotency', () => {
  const server = serverForSuite();

  it('a simple retry gets the same ack and no second new_message', async () => {
    const conv = uniqueId('cust');
    const user = await connectAs(server.wsUrl, { sub: conv });
    await user.join(conv);
    const id = newMessageId();
    const first = await user.sendMessage(conv, 'once', id);
    assert.equal(first.type, 'message_ack');
    await user.next(is.newMessage(conv, id));
    const retry = await user.sendMessage(conv, 'once', id);
    assert.deepEqual(retry.payload, first.payload);
    const next = await user.sendMessage(conv, 'twice');
    assert.equal(next.payload.seq, first.payload.seq + 1, 'the retry took no seq');
    await user.next(is.newMessage(conv, next.payload.message_id));
    assert.equal(user.log.filter(is.newMessage(conv, id)).length, 1);
  });

  it('a retry storm (30 at once on two sockets, then after a reconnect) gives identical acks and exactly one broadcast', async () => {
    const conv = uniqueId('storm');
    const userA = await connectAs(server.wsUrl, { sub: conv });
    const userB = await connectAs(server.wsUrl, { sub: conv });
    const observer = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    await Promise.all([userA.join(conv), userB.join(conv), observer.join(conv)]);

    const id = newMessageId();
    for (let i = 0; i < 20; i++) userA.postMessage(conv, 'storm', id);
    for (let i = 0; i < 10; i++) userB.postMessage(conv, 'storm', id);
    const acksA = await Promise.all(Array.from({ length: 20 }, () => userA.next(is.answerTo(id), 10_000)));
    const acksB = await Promise.all(Array.from({ length: 10 }, () => userB.next(is.answerTo(id), 10_000)));
    const acks = [...acksA, ...acksB];
    for (const ack of acks) {
      assert.equal(ack.type, 'message_ack', `every copy is acked, not refused: ${JSON.stringify(ack)}`);
    }
    const first = acks[0]!.payload;
    assert.equal(first.status, 'received');
    assert.equal(first.seq, 1);
    for (const ack of acks) assert.deepEqual(ack.payload, first, 'same seq and created_at for every copy');

    // After a reconnect, the retry still gets the same ack.
    await userA.close();
    const userC = await connectAs(server.wsUrl, { sub: conv });
    const { history } = await userC.join(conv, 0);
    assert.equal(history?.payload.messages.length, 1, 'stored once');
    const late = await userC.sendMessage(conv, 'storm', id);
    assert.deepEqual(late.payload, first);

    // Exactly one broadcast on each connection that was in the room.
    const marker = await userC.sendMessage(conv, 'marker');
    assert.equal(marker.payload.seq, 2, 'no seq was used by a retry');
    await observer.next(is.newMessage(conv, marker.payload.message_id));
    await userB.next(is.newMessage(conv, marker.payload.message_id));
    assert.equal(observer.log.filter(is.newMessage(conv, id)).length, 1);
    assert.equal(userB.log.filter(is.newMessage(conv, id)).length, 1);
    assert.equal(userC.log.filter(is.newMessage(conv, id)).length, 0, 'the late retry is not broadcast');
  });

  it('the same message_id sent to another conversation gets 4000 BAD_REQUEST with that id', async () => {
    const agent = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    const a = uniqueId('ca');
    const b = uniqueId('cb');
    await agent.join(a);
    await agent.join(b);
    const id = newMessageId();
    const first = await agent.sendMessage(a, 'to a', id);
    assert.equal(first.type, 'message_ack');
    const cross = await agent.sendMessage(b, 'to a', id);
    assert.equal(cross.type, 'error', JSON.stringify(cross));
    assert.equal(cross.payload.code, ErrorCode.BAD_REQUEST);
    assert.equal(cross.payload.reason, 'BAD_REQUEST');
    assert.equal(cross.payload.retryable, false);
    assert.equal(cross.payload.message_id, id);
    await agent.roundTrip();
    assert.equal(agent.log.filter(is.newMessage(b)).length, 0, 'nothing broadcast to the other conversation');
    const later = await agent.sendMessage(b, 'first real message in b');
    assert.equal(later.payload.seq, 1, 'the refused send took no seq in b');
  });

  it('a message_id already stored for another sender in the same conversation gets 4000, not that sender\'s ack (the text would be lost silently)', async () => {
    const conv = uniqueId('cust');
    const user = await connectAs(server.wsUrl, { sub: conv });
    const agent = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    await user.join(conv);
    await agent.join(conv);
    const id = newMessageId();
    assert.equal((await user.sendMessage(conv, 'the user\'s words', id)).type, 'message_ack');
    const reused = await agent.sendMessage(conv, 'the agent\'s words', id);
    assert.equal(reused.type, 'error', JSON.stringify(reused));
    assert.equal(reused.payload.code, ErrorCode.BAD_REQUEST);
    assert.equal(reused.payload.message_id, id);
    assert.equal((await user.sendMessage(conv, 'again', id)).type, 'message_ack', 'the sender\'s own retry is still acked');
    // Still the stored message, once: the id is unique across the store.
    const fresh = await connectAs(server.wsUrl, { sub: conv });
    const { history } = await fresh.join(conv, 0);
    assert.deepEqual(
      (history?.payload.messages as { message_id: string; sender_id: string; content: string }[]).map((m) => [m.message_id, m.sender_id, m.content]),
      [[id, conv, 'the user\'s words']],
    );
  });
});

describe('frames received in this file', () => {
  it('every server frame matched the protocol schemas (envelope with timestamp, exact payload fields)', () => {
    assert.deepEqual(schemaViolations(), []);
  });
});
