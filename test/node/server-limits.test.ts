// Black-box tests of the server's limits: the message rate limit (4008), malformed frames
// (4000, and close 1008 after more than 20), and the 64 KiB frame limit (close 1009).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clientFrame, CloseCode, ErrorCode, MAX_FRAME_BYTES, newMessageId } from '../../src/protocol/index.js';
import { serverForSuite } from '../helpers/suite.js';
import { connect, connectAs, is, schemaViolations, uniqueId } from '../helpers/ws-client.js';
import type { Frame, TestClient } from '../helpers/ws-client.js';

function assertRateLimited(frame: Frame, messageId: string): void {
  assert.equal(frame.type, 'error', JSON.stringify(frame));
  assert.equal(frame.payload.code, ErrorCode.RATE_LIMITED, JSON.stringify(frame));
  assert.equal(frame.payload.reason, 'RATE_LIMITED');
  assert.equal(frame.payload.retryable, true);
  assert.equal(frame.payload.message_id, messageId);
  assert.ok(Number.isInteger(frame.payload.retry_after_ms), `retry_after_ms ${frame.payload.retry_after_ms}`);
  assert.ok(frame.payload.retry_after_ms > 0 && frame.payload.retry_after_ms <= 60_000, `retry_after_ms ${frame.payload.retry_after_ms}`);
}

function assertBadRequest(frame: Frame, messageId?: string): void {
  assert.equal(frame.type, 'error', JSON.stringify(frame));
  assert.equal(frame.payload.code, ErrorCode.BAD_REQUEST, JSON.stringify(frame));
  assert.equal(frame.payload.reason, 'BAD_REQUEST');
  assert.equal(frame.payload.retryable, false);
  if (messageId !== undefined) assert.equal(frame.payload.message_id, messageId);
}

/** A send_message frame whose JSON text is exactly `bytes` bytes of UTF-8 (ASCII filler). */
function sendFrameOfSize(conv: string, bytes: number, filler = 'a'): string {
  const base = JSON.stringify(clientFrame('send_message', { conversation_id: conv, content: '', content_type: 'text' }));
  const fillerBytes = Buffer.byteLength(filler, 'utf8');
  const room = bytes - Buffer.byteLength(base, 'utf8');
  assert.ok(room % fillerBytes === 0, 'size must be reachable with the filler');
  return JSON.stringify(clientFrame('send_message', { conversation_id: conv, content: filler.repeat(room / fillerBytes), content_type: 'text' }));
}

describe('server limits', () => {
  const server = serverForSuite();

  async function joinedUser(): Promise<{ conv: string; user: TestClient }> {
    const conv = uniqueId('cust');
    const user = await connectAs(server.wsUrl, { sub: conv });
    assert.equal((await user.join(conv)).ack.type, 'message_ack');
    return { conv, user };
  }

  it('a client that stops reading its socket is dropped once 64 MiB wait unsent to it, rather than held in memory', async () => {
    const { conv, user } = await joinedUser();
    // 30 messages as large as a frame lets them be (white space around the text), then 60 pages of them asked for unread: 110 MiB.
    const ids = Array.from({ length: 30 }, (_, i) => user.postMessage(conv, `${i}${' '.repeat(MAX_FRAME_BYTES - 400)}`));
    await Promise.all(ids.map((id) => user.next(is.answerTo(id), 10_000)));
    const socket = (user.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    for (let i = 0; i < 60; i++) user.send(clientFrame('history', { conversation_id: conv, after_seq: 0, limit: 100 }));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    socket.resume();
    const closed = await Promise.race([user.closed, new Promise<undefined>((resolve) => setTimeout(resolve, 10_000))]);
    assert.ok(closed, 'the connection was dropped');
    assert.ok(user.log.filter((f) => f.type === 'history').length < 60, 'not every page was kept for it');
  });

  describe('rate limit (30 new messages per 60 s per user)', () => {
    it('acks 30 new messages (typing and refused frames do not count) and refuses the 31st with 4008', async () => {
      const { conv, user } = await joinedUser();
      for (let i = 0; i < 40; i++) user.typing(conv, i % 2 === 0);
      for (let i = 0; i < 5; i++) {
        const id = newMessageId();
        assertBadRequest(await user.sendMessage(conv, '   ', id), id);
      }
      const ids = Array.from({ length: 30 }, (_, i) => user.postMessage(conv, `msg ${i}`));
      const acks = await Promise.all(ids.map((id) => user.next(is.answerTo(id), 10_000)));
      for (const ack of acks) assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
      const id31 = newMessageId();
      assertRateLimited(await user.sendMessage(conv, 'one too many', id31), id31);
      // The refused message was not stored or broadcast.
      await user.roundTrip();
      assert.equal(user.log.filter(is.newMessage(conv, id31)).length, 0);
      // A retry of an already stored message is still acked while limited.
      const retry = await user.sendMessage(conv, 'msg 0', ids[0]!);
      assert.equal(retry.type, 'message_ack', `retry of a stored message_id must be acked, got ${JSON.stringify(retry)}`);
      assert.deepEqual(retry.payload, acks[0]!.payload);
      // Typing still works while limited.
      const agent = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      await agent.join(conv);
      user.typing(conv, false);
      assert.equal((await agent.next(is.typing(conv))).payload.is_typing, false);
      await user.roundTrip();
    });

    it('counts across all connections of the same user', async () => {
      const conv = uniqueId('cust');
      const a = await connectAs(server.wsUrl, { sub: conv });
      const b = await connectAs(server.wsUrl, { sub: conv, device_id: uniqueId('device') });
      await a.join(conv);
      await b.join(conv);
      const idsA = Array.from({ length: 15 }, (_, i) => a.postMessage(conv, `a ${i}`));
      const idsB = Array.from({ length: 15 }, (_, i) => b.postMessage(conv, `b ${i}`));
      for (const ack of await Promise.all(idsA.map((id) => a.next(is.answerTo(id), 10_000)))) assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
      for (const ack of await Promise.all(idsB.map((id) => b.next(is.answerTo(id), 10_000)))) assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
      const overA = newMessageId();
      assertRateLimited(await a.sendMessage(conv, 'over on a', overA), overA);
      const overB = newMessageId();
      assertRateLimited(await b.sendMessage(conv, 'over on b', overB), overB);
      // Another user is not affected.
      const agent = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      await agent.join(conv);
      assert.equal((await agent.sendMessage(conv, 'agent is fine')).type, 'message_ack');
    });

    it('counts across conversations: an agent writing in two conversations shares one limit', async () => {
      const agent = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      const a = uniqueId('ca');
      const b = uniqueId('cb');
      await agent.join(a);
      await agent.join(b);
      const ids = [
        ...Array.from({ length: 15 }, (_, i) => agent.postMessage(a, `a ${i}`)),
        ...Array.from({ length: 15 }, (_, i) => agent.postMessage(b, `b ${i}`)),
      ];
      for (const ack of await Promise.all(ids.map((id) => agent.next(is.answerTo(id), 10_000)))) assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
      const over = newMessageId();
      assertRateLimited(await agent.sendMessage(a, 'over', over), over);
    });

    it('at the limit, a stored message_id sent to another conversation is still the 4000 it always is, not a 4008', async () => {
      const agent = await connectAs(server.wsUrl, { sub: uniqueId('agent'), role: 'agent' });
      const [a, b] = [uniqueId('ca'), uniqueId('cb')];
      await agent.join(a);
      await agent.join(b);
      const ids = Array.from({ length: 30 }, (_, i) => agent.postMessage(a, `a ${i}`));
      for (const ack of await Promise.all(ids.map((id) => agent.next(is.answerTo(id), 10_000)))) assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
      assertBadRequest(await agent.sendMessage(b, 'a 0', ids[0]!), ids[0]!);
    });

    it('a burst of 35 at once yields exactly 30 acks and 5 refusals, and seq stays gapless', async () => {
      const { conv, user } = await joinedUser();
      const ids = Array.from({ length: 35 }, (_, i) => user.postMessage(conv, `burst ${i}`));
      const answers = await Promise.all(ids.map((id) => user.next(is.answerTo(id), 10_000)));
      const acked = answers.filter((f) => f.type === 'message_ack');
      const limited = answers.filter((f) => f.type === 'error' && f.payload.code === ErrorCode.RATE_LIMITED);
      assert.equal(acked.length, 30, JSON.stringify(answers.filter((f) => f.type !== 'message_ack')));
      assert.equal(limited.length, 5);
      assert.deepEqual(acked.map((f) => f.payload.seq as number).sort((x, y) => x - y), Array.from({ length: 30 }, (_, i) => i + 1));
    });
  });

  describe('malformed frames', () => {
    it('answers non-JSON, non-object, unknown type, bad payload and missing timestamp with 4000 and keeps the connection', async () => {
      const { conv, user } = await joinedUser();
      user.sendRaw('this is not json');
      assertBadRequest(await user.next(is.error()));
      user.sendRaw('[1,2,3]');
      assertBadRequest(await user.next(is.error()));
      user.sendRaw('"just a string"');
      assertBadRequest(await user.next(is.error()));

      const unknown = newMessageId();
      user.send({ type: 'shout', payload: {}, message_id: unknown, timestamp: new Date().toISOString() });
      assertBadRequest(await user.next(is.error()), unknown);

      const badPayload = newMessageId();
      user.send({ type: 'join_room', payload: { conversation_id: 42 }, message_id: badPayload, timestamp: new Date().toISOString() });
      assertBadRequest(await user.next(is.answerTo(badPayload)), badPayload);

      const badTyping = newMessageId();
      user.send({ type: 'typing', payload: { conversation_id: conv, is_typing: 'yes' }, message_id: badTyping, timestamp: new Date().toISOString() });
      assertBadRequest(await user.next(is.error()), badTyping);

      const noTimestamp = newMessageId();
      user.send({ type: 'send_message', payload: { conversation_id: conv, content: 'x', content_type: 'text' }, message_id: noTimestamp });
      assertBadRequest(await user.next(is.answerTo(noTimestamp)), noTimestamp);

      const receivedFromClient = newMessageId();
      user.send({ type: 'message_ack', payload: { message_id: newMessageId(), status: 'received' }, message_id: receivedFromClient, timestamp: new Date().toISOString() });
      assertBadRequest(await user.next(is.error()), receivedFromClient);

      const noPayload = newMessageId();
      user.send({ type: 'leave_room', message_id: noPayload, timestamp: new Date().toISOString() });
      assertBadRequest(await user.next(is.answerTo(noPayload)), noPayload);

      assert.equal(user.isOpen, true);
      await user.roundTrip();
      const ok = await user.sendMessage(conv, 'still here');
      assert.equal(ok.type, 'message_ack', JSON.stringify(ok));
      assert.deepEqual(user.invalid, []);
    });

    it('answers a binary frame with 4000 (text frames only) and keeps the connection', async () => {
      const { user } = await joinedUser();
      user.ws.send(Buffer.from(JSON.stringify(clientFrame('ping', {}))), { binary: true });
      assertBadRequest(await user.next(is.error()));
      await user.roundTrip();
    });

    it('closes 1007 on a text frame that is not valid UTF-8 (a broken WebSocket, as RFC 6455 says)', async () => {
      const { user } = await joinedUser();
      user.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
      const { code } = await user.waitClosed(3_000);
      assert.equal(code, 1007);
    });

    it('keeps the connection after 20 bad frames and closes 1008 on the 21st', async () => {
      const { user } = await joinedUser();
      for (let i = 0; i < 20; i++) user.sendRaw(`{bad json ${i}`);
      for (let i = 0; i < 20; i++) assertBadRequest(await user.next(is.error()));
      await user.roundTrip();
      assert.equal(user.isOpen, true, 'open after exactly 20 bad frames');
      user.sendRaw('{bad json 21');
      const { code } = await user.waitClosed(3_000);
      assert.equal(code, CloseCode.POLICY_VIOLATION);
    });
  });

  describe('frame size (64 KiB)', () => {
    it('a frame of exactly 65,536 bytes is read (and refused for its content with 4000), not closed', async () => {
      const { conv, user } = await joinedUser();
      const text = sendFrameOfSize(conv, MAX_FRAME_BYTES);
      assert.equal(Buffer.byteLength(text), MAX_FRAME_BYTES);
      const id = (JSON.parse(text) as { message_id: string }).message_id;
      user.sendRaw(text);
      assertBadRequest(await user.next(is.answerTo(id)), id);
      await user.roundTrip();
    });

    it('a frame of 65,537 bytes closes the connection with 1009', async () => {
      const { conv, user } = await joinedUser();
      const text = sendFrameOfSize(conv, MAX_FRAME_BYTES + 1);
      user.sendRaw(text);
      const { code } = await user.waitClosed(3_000);
      assert.equal(code, CloseCode.TOO_LARGE);
      assert.equal(user.log.filter(is.newMessage()).length, 0);
    });

    it('an oversized first frame (before auth) also closes with 1009', async () => {
      const client = await connect(server.wsUrl);
      client.sendRaw(JSON.stringify(clientFrame('auth', { token: 'x'.repeat(MAX_FRAME_BYTES) })));
      const { code } = await client.waitClosed(3_000);
      assert.equal(code, CloseCode.TOO_LARGE);
    });

    it('counts UTF-8 bytes, not characters: 22,000 three-byte characters close with 1009', async () => {
      const { conv, user } = await joinedUser();
      const text = JSON.stringify(clientFrame('send_message', { conversation_id: conv, content: '€'.repeat(22_000), content_type: 'text' }));
      assert.ok(text.length < MAX_FRAME_BYTES && Buffer.byteLength(text) > MAX_FRAME_BYTES);
      user.sendRaw(text);
      const { code } = await user.waitClosed(3_000);
      assert.equal(code, CloseCode.TOO_LARGE);
    });
  });
});

describe('frames received in this file', () => {
  it('every server frame matched the protocol schemas (envelope with timestamp, exact payload fields)', () => {
    assert.deepEqual(schemaViolations(), []);
  });
});
