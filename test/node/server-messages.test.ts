// Black-box tests of send_message (PROTOCOL.md "Messages"): the ack to the sender,
// new_message to every connection in the room, content rules, per-conversation seq
// without gaps under concurrency, and NOT_IN_ROOM.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clientFrame, ErrorCode, newMessageId } from '../../src/protocol/index.js';
import { serverForSuite } from '../helpers/suite.js';
import { connectAs, is, schemaViolations, uniqueId, joinedPair } from '../helpers/ws-client.js';
import type { Frame } from '../helpers/ws-client.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function assertReceivedAck(ack: Frame, messageId: string): void {
  assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
  assert.deepEqual(Object.keys(ack.payload).sort(), ['created_at', 'message_id', 'seq', 'status']);
  assert.equal(ack.payload.message_id, messageId);
  assert.equal(ack.payload.status, 'received');
  assert.ok(Number.isInteger(ack.payload.seq) && ack.payload.seq >= 1, `seq ${ack.payload.seq}`);
  assert.match(ack.payload.created_at, ISO);
}

function assertError(frame: Frame, code: number, reason: string, retryable: boolean, messageId: string): void {
  assert.equal(frame.type, 'error', JSON.stringify(frame));
  assert.equal(frame.payload.code, code, JSON.stringify(frame));
  assert.equal(frame.payload.reason, reason);
  assert.equal(frame.payload.retryable, retryable);
  assert.equal(frame.payload.message_id, messageId);
  assert.equal(typeof frame.payload.message, 'string');
}

describe('server send_message', () => {
  const server = serverForSuite();

  const pair = () => joinedPair(server.wsUrl);

  it('refuses send_message before join with 4005 NOT_IN_ROOM carrying the message_id, and keeps the connection', async () => {
    const sub = uniqueId('early');
    const user = await connectAs(server.wsUrl, { sub });
    const id = newMessageId();
    const answer = await user.sendMessage(sub, 'too early', id);
    assertError(answer, ErrorCode.NOT_IN_ROOM, 'NOT_IN_ROOM', true, id);
    await user.roundTrip();
    // After joining, the same message_id is accepted (nothing was stored the first time).
    const { history } = await user.join(sub);
    assert.deepEqual(history?.payload.messages, [], 'the refused send was not stored');
    assertReceivedAck(await user.sendMessage(sub, 'now', id), id);
  });

  it('acks the sender with {message_id, status, seq, created_at} and sends new_message with every field to everyone in the room, sender included', async () => {
    const { conv, user, agent, agentId } = await pair();
    const id = newMessageId();
    const ack = await user.sendMessage(conv, 'Hello, I need help', id);
    assertReceivedAck(ack, id);
    assert.equal(ack.payload.seq, 1);
    const expected = {
      message_id: id,
      conversation_id: conv,
      seq: 1,
      sender_id: conv,
      sender_role: 'user',
      content: 'Hello, I need help',
      content_type: 'text',
      created_at: ack.payload.created_at,
    };
    const mine = await user.next(is.newMessage(conv, id));
    const theirs = await agent.next(is.newMessage(conv, id));
    assert.deepEqual(mine.payload, expected);
    assert.deepEqual(theirs.payload, expected);
    assert.ok(user.log.indexOf(ack) < user.log.indexOf(mine), 'the sender gets its ack before the new_message');

    const reply = newMessageId();
    const replyAck = await agent.sendMessage(conv, 'Hi! How can I help?', reply);
    assertReceivedAck(replyAck, reply);
    assert.equal(replyAck.payload.seq, 2);
    const expectedReply = { ...expected, message_id: reply, seq: 2, sender_id: agentId, sender_role: 'agent', content: 'Hi! How can I help?', created_at: replyAck.payload.created_at };
    assert.deepEqual((await user.next(is.newMessage(conv, reply))).payload, expectedReply);
    assert.deepEqual((await agent.next(is.newMessage(conv, reply))).payload, expectedReply);
    assert.ok(Date.parse(replyAck.payload.created_at) >= Date.parse(ack.payload.created_at));
    assert.deepEqual(user.invalid, []);
    assert.deepEqual(agent.invalid, []);
  });

  it('delivers to every connection of the room: two sockets of the same user and two agents', async () => {
    const { conv, user, agent } = await pair();
    const user2 = await connectAs(server.wsUrl, { sub: conv });
    const agent2 = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    await user2.join(conv);
    await agent2.join(conv);
    const outsider = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    await outsider.join(uniqueId('elsewhere'));
    const ack = await agent.sendMessage(conv, 'to all of you');
    assert.equal(ack.type, 'message_ack');
    for (const c of [user, user2, agent, agent2]) {
      const m = await c.next(is.newMessage(conv, ack.payload.message_id));
      assert.equal(m.payload.seq, ack.payload.seq);
    }
    assert.deepEqual(await outsider.collect(is.newMessage(), 300), [], 'not delivered outside the room');
    for (const c of [user, user2, agent, agent2]) {
      assert.equal(c.log.filter(is.newMessage(conv, ack.payload.message_id)).length, 1, 'delivered once per connection');
    }
  });

  it('stores and relays content exactly as sent (untrimmed, markup and Unicode intact)', async () => {
    const { conv, user, agent } = await pair();
    const samples = ['  padded on both ends \n\t', '<b>not html</b> & "quotes" \'single\'', 'emoji 😀👍🏽 and 日本語', 'line one\nline two\r\nline three'];
    const acks: Frame[] = [];
    for (const content of samples) {
      const ack = await user.sendMessage(conv, content);
      assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
      acks.push(ack);
      const relayed = await agent.next(is.newMessage(conv, ack.payload.message_id));
      assert.equal(relayed.payload.content, content);
    }
    const again = await connectAs(server.wsUrl, { sub: conv });
    const { history } = await again.join(conv);
    assert.deepEqual(
      (history?.payload.messages as { content: string }[]).map((m) => m.content),
      samples,
      'history holds the untrimmed text',
    );
  });

  it('accepts 4000 code points (astral characters count once) and content padded beyond 4000 by white space', async () => {
    const { conv, user } = await pair();
    const astral = '😀'.repeat(4000); // 8000 UTF-16 units, 4000 code points, 16000 bytes
    const ack = await user.sendMessage(conv, astral);
    assert.equal(ack.type, 'message_ack', JSON.stringify(ack).slice(0, 300));
    const padded = `   ${'a'.repeat(4000)}   `;
    const ack2 = await user.sendMessage(conv, padded);
    assert.equal(ack2.type, 'message_ack', JSON.stringify(ack2).slice(0, 300));
    const relayed = await user.next(is.newMessage(conv, ack2.payload.message_id));
    assert.equal(relayed.payload.content, padded);
  });

  it('refuses bad content with 4000 BAD_REQUEST carrying the message_id, stores nothing, keeps the connection', async () => {
    const { conv, user, agent } = await pair();
    const bad: [string, string][] = [
      ['empty', ''],
      ['white space only', '  \n\t '],
      ['4001 characters', 'b'.repeat(4001)],
      ['4001 code points', '😀'.repeat(4001)],
      ['NUL', 'a\u0000b'],
      ['lone high surrogate', 'a\uD83Db'],
      ['lone low surrogate', 'a\uDE00b'],
    ];
    for (const [label, content] of bad) {
      const id = newMessageId();
      const answer = await user.sendMessage(conv, content, id);
      assert.equal(answer.type, 'error', `${label}: ${JSON.stringify(answer).slice(0, 200)}`);
      assertError(answer, ErrorCode.BAD_REQUEST, 'BAD_REQUEST', false, id);
    }
    // Other payload problems.
    const wrongType = newMessageId();
    user.send(clientFrame('send_message', { conversation_id: conv, content: 'x', content_type: 'html' as 'text' }, wrongType));
    assertError(await user.next(is.answerTo(wrongType)), ErrorCode.BAD_REQUEST, 'BAD_REQUEST', false, wrongType);
    const missingType = newMessageId();
    user.send({ type: 'send_message', payload: { conversation_id: conv, content: 'x' }, message_id: missingType, timestamp: new Date().toISOString() });
    assertError(await user.next(is.answerTo(missingType)), ErrorCode.BAD_REQUEST, 'BAD_REQUEST', false, missingType);
    const numeric = newMessageId();
    user.send({ type: 'send_message', payload: { conversation_id: conv, content: 42, content_type: 'text' }, message_id: numeric, timestamp: new Date().toISOString() });
    assertError(await user.next(is.answerTo(numeric)), ErrorCode.BAD_REQUEST, 'BAD_REQUEST', false, numeric);

    // send_message without a message_id: a 4000 error (there is no id to carry).
    user.send({ type: 'send_message', payload: { conversation_id: conv, content: 'no id', content_type: 'text' }, timestamp: new Date().toISOString() });
    const noId = await user.next(is.error());
    assert.equal(noId.payload.code, ErrorCode.BAD_REQUEST, JSON.stringify(noId));

    await user.roundTrip();
    assert.deepEqual(agent.log.filter(is.newMessage(conv)), [], 'nothing refused was broadcast');
    const ok = await user.sendMessage(conv, 'finally valid');
    assert.equal(ok.type, 'message_ack');
    assert.equal(ok.payload.seq, 1, 'refused sends took no seq');
  });

  it('never trusts the client timestamp: created_at is the server\'s time', async () => {
    const { conv, user } = await pair();
    for (const timestamp of ['1999-01-01T00:00:00.000Z', '2999-01-01T00:00:00.000Z']) {
      const id = newMessageId();
      const before = Date.now();
      user.send({ type: 'send_message', payload: { conversation_id: conv, content: `sent "at" ${timestamp}`, content_type: 'text' }, message_id: id, timestamp });
      const ack = await user.next(is.answerTo(id));
      assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
      const createdAt = Date.parse(ack.payload.created_at);
      assert.ok(Math.abs(createdAt - before) < 10_000, `created_at ${ack.payload.created_at} follows the client timestamp ${timestamp}`);
    }
  });

  it('delivers each new_message once to a connection that joined the same conversation twice', async () => {
    const { conv, user, agent } = await pair();
    const second = await agent.join(conv);
    assert.equal(second.ack.type, 'message_ack', 'joining again is acked');
    const ack = await user.sendMessage(conv, 'only once please');
    await agent.next(is.newMessage(conv, ack.payload.message_id));
    await user.sendMessage(conv, 'marker');
    await agent.next(is.newMessage(conv));
    await agent.roundTrip();
    assert.equal(agent.log.filter(is.newMessage(conv, ack.payload.message_id)).length, 1);
  });

  it('keeps seq per conversation: an agent in two conversations sees each start at 1', async () => {
    const agent = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    const a = uniqueId('ca');
    const b = uniqueId('cb');
    await agent.join(a);
    await agent.join(b);
    const a1 = await agent.sendMessage(a, 'a1');
    const b1 = await agent.sendMessage(b, 'b1');
    const a2 = await agent.sendMessage(a, 'a2');
    assert.deepEqual([a1.payload.seq, b1.payload.seq, a2.payload.seq], [1, 1, 2]);
    const m = await agent.next(is.newMessage(b, b1.payload.message_id));
    assert.equal(m.payload.conversation_id, b);
  });

  it('20 concurrent senders get seq 1..20 with no gap or repeat, created_at never decreasing, and every connection sees them in order once', async () => {
    const conv = uniqueId('busy');
    const agents = await Promise.all(Array.from({ length: 20 }, () => connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' })));
    const user = await connectAs(server.wsUrl, { sub: conv });
    await Promise.all([...agents, user].map((c) => c.join(conv)));
    const ids = agents.map((a, i) => a.postMessage(conv, `concurrent ${i}`));
    const acks = await Promise.all(agents.map((a, i) => a.next(is.answerTo(ids[i]!), 10_000)));
    for (const [i, ack] of acks.entries()) assertReceivedAck(ack, ids[i]!);
    const bySeq = [...acks].sort((x, y) => x.payload.seq - y.payload.seq);
    assert.deepEqual(bySeq.map((a) => a.payload.seq), Array.from({ length: 20 }, (_, i) => i + 1));
    for (let i = 1; i < bySeq.length; i++) {
      assert.ok(
        Date.parse(bySeq[i]!.payload.created_at) >= Date.parse(bySeq[i - 1]!.payload.created_at),
        `created_at decreases between seq ${i} and ${i + 1}`,
      );
    }
    for (const c of [...agents, user]) {
      const got = await Promise.all(ids.map((id) => c.next(is.newMessage(conv, id), 10_000)));
      assert.equal(got.length, 20);
      await c.roundTrip();
      const seqs = c.log.filter(is.newMessage(conv)).map((f) => f.payload.seq as number);
      assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => i + 1), 'ascending seq order, each once');
    }
    const again = await connectAs(server.wsUrl, { sub: conv });
    const { history } = await again.join(conv, 0);
    assert.deepEqual(
      (history?.payload.messages as { message_id: string; seq: number }[]).map((m) => [m.seq, m.message_id]),
      bySeq.map((a) => [a.payload.seq, a.payload.message_id]),
    );
  });

  it('20 concurrent sends on one connection also get distinct seq 1..20', async () => {
    const { conv, user } = await pair();
    const ids = Array.from({ length: 20 }, (_, i) => user.postMessage(conv, `burst ${i}`));
    const acks = await Promise.all(ids.map((id) => user.next(is.answerTo(id), 10_000)));
    const seqs = acks.map((a) => a.payload.seq as number).sort((x, y) => x - y);
    assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('refuses send_message to an invalid conversation_id with 4000', async () => {
    const agent = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
    const id = newMessageId();
    assertError(await agent.sendMessage('bad id with spaces', 'x', id), ErrorCode.BAD_REQUEST, 'BAD_REQUEST', false, id);
  });
});

describe('frames received in this file', () => {
  it('every server frame matched the protocol schemas (envelope with timestamp, exact payload fields)', () => {
    assert.deepEqual(schemaViolations(), []);
  });
});
