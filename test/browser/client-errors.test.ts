// Every error code as PROTOCOL.md's table tells the client to handle it, provoked on the real
// server: 4000, 4001 (with and without a token provider), 4003, 4005, 4008, 4009, 4100; plus a
// gap in seq repaired and a retried message never shown twice.
import { expect } from '@open-wc/testing';
import { clientFrame, newMessageId } from '../../src/protocol/index.js';
import { IdbChatStore } from '../../src/outbox/index.js';
import { LiveChatClient, type LiveChatClientOptions } from '../../src/client/index.js';
import {
  connectSameDevice,
  lockStore,
  makeToken,
  record,
  restartChatServer,
  signalServer,
  sleep,
  startChatServer,
  stopChatServer,
  storedContents,
  trackedWebSocket,
  uniqueId,
  unlockStore,
  waitFor,
  waitForState,
  type ServerInfo,
} from './harness.js';

describe('LiveChatClient error handling', () => {
  let server: ServerInfo;
  const clients: LiveChatClient[] = [];

  before(async () => {
    server = await startChatServer({ RATE_LIMIT_PER_MINUTE: '3', RATE_LIMIT_WINDOW_MS: '1500' });
  });
  after(async () => {
    await stopChatServer(server);
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await unlockStore(server);
  });

  function open(options: Omit<LiveChatClientOptions, 'url'>): LiveChatClient {
    const client = new LiveChatClient({ url: server.wsUrl, timing: { reconnectDelaysMs: [0, 100, 200, 400, 800] }, ...options });
    clients.push(client);
    return client;
  }

  async function visitorWithAgent(options: Omit<LiveChatClientOptions, 'url' | 'token'> = {}) {
    const visitorId = uniqueId('v');
    const visitor = open({ token: await makeToken({ sub: visitorId }), ...options });
    const agent = open({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitorId });
    await waitForState(visitor, 'connected');
    await waitForState(agent, 'connected');
    return { visitorId, visitor, agent };
  }

  it('4001 on an expired token: asks the token provider once for a fresh token and carries on', async () => {
    const sub = uniqueId('v');
    let asked = 0;
    const client = open({
      tokenProvider: async () => makeToken({ sub, expSeconds: asked++ === 0 ? 2 : 3600 }),
    });
    await waitForState(client, 'connected');
    const states = record(client, 'state');
    await waitFor(() => asked === 2, 'a second token after the first expired', 6000);
    await waitForState(client, 'connected');
    expect(states.some((s) => s.detail.state === 'auth-failed')).to.equal(false);
    await client.send('with the fresh token');
    await waitFor(() => storedContents(client).includes('with the fresh token'), 'the ack');
  });

  it('4001 without a token provider: stops in auth-failed and does not reconnect', async () => {
    const client = open({ token: await makeToken({ sub: uniqueId('v'), expSeconds: 1 }) });
    await waitForState(client, 'connected');
    await waitForState(client, 'auth-failed', 5000);
    const states = record(client, 'state');
    await sleep(500);
    expect(states).to.have.length(0);
  });

  it('4001 for a token the server refuses outright: auth-failed with the error', async () => {
    const client = open({ token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiZXhwIjo0MTAyNDQ0ODAwfQ.' });
    const states = record(client, 'state');
    await waitForState(client, 'auth-failed');
    expect(states.at(-1)!.detail.error?.code).to.equal(4001);
  });

  it('4003: a user joining someone else\'s conversation stops, reports it, and does not retry', async () => {
    const client = open({ token: await makeToken({ sub: uniqueId('v') }), conversationId: uniqueId('someone-else') });
    const errors = record(client, 'error');
    const states = record(client, 'state');
    await waitForState(client, 'stopped');
    expect(errors.map((e) => e.detail.code)).to.include(4003);
    expect(states.at(-1)!.detail.error?.code).to.equal(4003);
    await sleep(400);
    expect(states.at(-1)!.detail.state).to.equal('stopped');
  });

  it('4005: after the server dropped the room, a send is answered 4005; the client joins again and resends', async () => {
    const tracked = trackedWebSocket();
    const { visitorId, visitor, agent } = await visitorWithAgent({ WebSocket: tracked.WebSocket });
    // Leave the room on the client's own socket, as a server that lost the membership would.
    tracked.sockets.at(-1)!.send(JSON.stringify(clientFrame('leave_room', { conversation_id: visitorId })));
    await sleep(100);
    const errors = record(visitor, 'error');
    await visitor.send('after the room was lost');
    await waitFor(() => storedContents(agent).includes('after the room was lost'), 'the resent message');
    expect(errors.map((e) => e.detail.code)).to.include(4005);
    expect(storedContents(agent).filter((c) => c === 'after the room was lost')).to.have.length(1);
  });

  it('4008: waits retry_after_ms and resends, keeping order and sending each once', async () => {
    const { visitor, agent } = await visitorWithAgent();
    const errors = record(visitor, 'error');
    for (let i = 1; i <= 5; i++) await visitor.send(`limited ${i}`);
    await waitFor(() => storedContents(agent).length === 5, 'all five at the agent', 10_000);
    expect(errors.some((e) => e.detail.code === 4008)).to.equal(true);
    expect(storedContents(agent)).to.deep.equal([1, 2, 3, 4, 5].map((i) => `limited ${i}`));
    expect(visitor.messages.map((m) => m.seq)).to.deep.equal([1, 2, 3, 4, 5]);
  });

  it('4008: the pause is kept on a steady clock; the wall clock set back an hour meanwhile does not stretch it', async () => {
    const { visitor, agent } = await visitorWithAgent();
    const errors = record(visitor, 'error');
    const wallClock = Date.now;
    try {
      for (let i = 1; i <= 5; i++) await visitor.send(`limited ${i}`);
      await waitFor(() => errors.some((e) => e.detail.code === 4008), 'the 4008');
      Date.now = () => wallClock() - 3_600_000; // the phone's clock corrected by the network, say
      await waitFor(() => storedContents(agent).length === 5, 'all five at the agent', 8000);
    } finally {
      Date.now = wallClock;
    }
    expect(storedContents(agent)).to.deep.equal([1, 2, 3, 4, 5].map((i) => `limited ${i}`));
  });

  it('4008 in a stream written faster than the limit allows: stored in the order written, each once (a later message never overtakes a refused one)', async () => {
    // Slots free up while the stream goes on: a message sent just then would be stored ahead of the refused ones before it.
    const own = await startChatServer({ RATE_LIMIT_PER_MINUTE: '4', RATE_LIMIT_WINDOW_MS: '500' });
    try {
      const visitorId = uniqueId('v');
      const visitor = new LiveChatClient({ url: own.wsUrl, token: await makeToken({ sub: visitorId }) });
      const agent = new LiveChatClient({ url: own.wsUrl, token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitorId });
      clients.push(visitor, agent);
      await Promise.all([waitForState(visitor, 'connected'), waitForState(agent, 'connected')]);
      const errors = record(visitor, 'error');
      const written = Array.from({ length: 30 }, (_, i) => `burst ${String(i + 1).padStart(2, '0')}`);
      for (const text of written) {
        await visitor.send(text);
        await sleep(3);
      }
      await waitFor(() => storedContents(agent).length === written.length, 'every message at the agent', 15_000);
      expect(errors.filter((e) => e.detail.code === 4008).length).to.be.above(0);
      expect(storedContents(agent)).to.deep.equal(written);
      expect(storedContents(visitor)).to.deep.equal(written);
    } finally {
      await stopChatServer(own);
    }
  });

  it('a rejoin (4005 to another frame) with a send out sends it again at once, and what was written after it follows', async () => {
    // The first send never reaches the server; then a typing frame is refused 4005 (a room the server forgot).
    let dropped = 0;
    class Lossy extends WebSocket {
      override send(data: string): void {
        const frame = JSON.parse(data) as { type: string; payload: { conversation_id?: string } };
        if (frame.type === 'send_message' && dropped === 0) return void dropped++;
        if (frame.type === 'typing') frame.payload.conversation_id = uniqueId('not-joined');
        super.send(JSON.stringify(frame));
      }
    }
    // Retries far apart: only the rejoin can send the first message again within the test.
    const { visitor, agent } = await visitorWithAgent({ WebSocket: Lossy, timing: { sendRetryMs: 60_000 } });
    const errors = record(visitor, 'error');
    await visitor.send('lost on the way');
    await visitor.send('written after it');
    visitor.setTyping(true);
    await waitFor(() => storedContents(agent).length === 2, 'both at the agent', 5000);
    expect(dropped).to.equal(1);
    expect(errors.map((e) => e.detail.code)).to.include(4005);
    expect(storedContents(agent)).to.deep.equal(['lost on the way', 'written after it']);
  });

  it('4009: a newer connection of the same user and device replaces this one; it stops in replaced', async () => {
    const sub = uniqueId('v');
    const token = await makeToken({ sub });
    const client = open({ token });
    await waitForState(client, 'connected');
    const other = await connectSameDevice(server, sub, token);
    await waitForState(client, 'replaced');
    const states = record(client, 'state');
    await sleep(400);
    expect(states).to.have.length(0);
    other.close();
  });

  it('4100: keeps the message, reconnects with backoff (joins still succeed: they only read) and resends once the store is back', async () => {
    const tracked = trackedWebSocket();
    const { visitor, agent } = await visitorWithAgent({ WebSocket: tracked.WebSocket });
    const errors = record(visitor, 'error');
    await lockStore(server);
    const before = tracked.sockets.length;
    await visitor.send('during the storage failure');
    await waitFor(() => errors.some((e) => e.detail.code === 4100), 'the 4100');
    expect(visitor.messages.find((m) => m.content === 'during the storage failure')?.seq).to.equal(undefined);
    await sleep(2500); // past the schedule (0.1 + 0.2 + 0.4 + 0.8 s, and jitter)
    expect(tracked.sockets.length - before).to.be.at.most(5); // one a step of the schedule, not one a join
    await unlockStore(server);
    visitor.reconnect(); // the schedule is spent by now: as the user would, from the notice
    await waitFor(() => storedContents(agent).includes('during the storage failure'), 'delivery after recovery', 10_000);
    expect(storedContents(agent).filter((c) => c === 'during the storage failure')).to.have.length(1);
  });

  it('a message whose white space would fill a frame is refused by send(), never written to the outbox', async () => {
    const visitor = uniqueId('v');
    const client = open({ token: await makeToken({ sub: visitor }) });
    await waitForState(client, 'connected');
    let refusal: unknown;
    await client.send(`hello${' '.repeat(70_000)}`).catch((error: unknown) => (refusal = error));
    expect(String(refusal)).to.match(/too large to send/);
    expect(client.messages).to.deep.equal([]);
    const store = await IdbChatStore.open(`live-chat:${visitor}@${new URL(server.wsUrl).host}`);
    expect(await store.outbox(visitor)).to.deep.equal([]);
    store.close();
  });

  it('one too large for a frame already in the outbox (an older version wrote it) fails without going on the wire; the next is delivered, on the same socket', async () => {
    const visitor = uniqueId('v');
    const store = await IdbChatStore.open(`live-chat:${visitor}@${new URL(server.wsUrl).host}`);
    await store.putOutbox({ message_id: newMessageId(), conversation_id: visitor, content: `hello${'\n'.repeat(40_000)}`, queued_at: 1, status: 'queued' });
    store.close();
    const { WebSocket, sockets } = trackedWebSocket();
    const client = open({ token: await makeToken({ sub: visitor }), WebSocket });
    await waitFor(() => client.messages[0]?.status === 'failed', 'the oversized one failed');
    await client.send('after it');
    await waitFor(() => storedContents(client).includes('after it'), 'the next one delivered');
    client.retry(client.messages.find((m) => m.status === 'failed')!.message_id);
    await sleep(300);
    expect(client.messages.filter((m) => m.status === 'failed').length).to.equal(1);
    expect(sockets.length).to.equal(1);
    expect(client.state).to.equal('connected');
  });

  it('a server that answers every send 4005 (its rooms lost) gets a few rejoins, then the reconnect schedule, not a loop of joins', async () => {
    let joins = 0;
    class RoomsLost extends WebSocket {
      override send(data: string) {
        if (data.includes('"type":"join_room"')) joins++;
        if (!data.includes('"type":"send_message"')) return super.send(data);
        // The server's answer to every send, which it does not store: 4005.
        const id = (JSON.parse(data) as { message_id: string }).message_id;
        const error = { type: 'error', message_id: id, timestamp: new Date().toISOString(), payload: { code: 4005, reason: 'NOT_IN_ROOM', message: 'not in room', retryable: true, message_id: id } };
        setTimeout(() => this.onmessage?.(new MessageEvent('message', { data: JSON.stringify(error) })), 5);
      }
    }
    const client = open({ token: await makeToken({ sub: uniqueId('v') }), WebSocket: RoomsLost, timing: { reconnectDelaysMs: [0, 100, 200] } });
    await waitForState(client, 'connected');
    await client.send('never acked');
    await waitForState(client, 'stopped', 5000);
    expect(joins).to.be.lessThan(20);
  });

  it('a history request the server refuses (4000) is answered: loadOlder() resolves rather than waiting for the socket to close', async () => {
    let spoil = false;
    class Spoiling extends WebSocket {
      override send(data: string) {
        super.send(spoil && data.includes('"type":"history"') ? data.replace(/"limit":\d+/, '"limit":100000') : data);
      }
    }
    const client = open({ token: await makeToken({ sub: uniqueId('v') }), WebSocket: Spoiling });
    await waitForState(client, 'connected');
    spoil = true;
    const result = await Promise.race([client.loadOlder(), sleep(2000).then(() => 'still waiting')]);
    expect(result).to.equal(true); // unknown: there may be older ones
    expect(client.state).to.equal('connected');
  });

  it('a send refused 4000 (never taken as it is) fails and is not sent again on a new connection; retry() sends it again', async () => {
    let refusedSends = 0;
    const { WebSocket: Tracked, sockets } = trackedWebSocket();
    class Spoiling extends Tracked {
      override send(data: string): void {
        const frame = JSON.parse(data) as { type: string; payload: { content?: string } };
        if (frame.type === 'send_message' && frame.payload.content === 'spoiled on the way') {
          refusedSends++;
          frame.payload.content = ''; // what the server refuses with 4000
        }
        super.send(JSON.stringify(frame));
      }
    }
    const { visitor } = await visitorWithAgent({ WebSocket: Spoiling });
    const errors = record(visitor, 'error');
    const message = await visitor.send('spoiled on the way');
    await waitFor(() => visitor.messages.find((m) => m.message_id === message.message_id)?.status === 'failed', 'failed');
    expect(errors.map((e) => e.detail.code)).to.deep.equal([4000]);
    for (let i = 0; i < 2; i++) {
      const count = sockets.length;
      sockets.at(-1)!.close();
      await waitFor(() => sockets.length > count && visitor.state === 'connected', 'connected again');
    }
    await sleep(300);
    expect(refusedSends, 'sent once, not once a connection').to.equal(1);
    expect(visitor.messages.find((m) => m.message_id === message.message_id)?.status).to.equal('failed');
    await visitor.retry(message.message_id);
    await waitFor(() => refusedSends === 2, 'sent again by retry()');
  });

  it('a send the server never answers fails after its tries and is reported (error, code 0, with its message_id)', async () => {
    class Deaf extends WebSocket {
      override send(data: string): void {
        if (!data.includes('"type":"send_message"')) super.send(data);
      }
    }
    const { visitor } = await visitorWithAgent({ WebSocket: Deaf, timing: { sendRetryMs: 100, sendTries: 2 } });
    const errors = record(visitor, 'error');
    const message = await visitor.send('into the void');
    await waitFor(() => visitor.messages.find((m) => m.message_id === message.message_id)?.status === 'failed', 'failed');
    expect(errors.map((e) => ({ code: e.detail.code, message_id: e.detail.message_id }))).to.deep.equal([{ code: 0, message_id: message.message_id }]);
    expect(errors[0]!.detail.message).to.match(/not sent/);
  });

  it('4000: reported, and the connection kept', async () => {
    const tracked = trackedWebSocket();
    const { visitor } = await visitorWithAgent({ WebSocket: tracked.WebSocket });
    const errors = record(visitor, 'error');
    tracked.sockets.at(-1)!.send('{"type":"nonsense"}');
    await waitFor(() => errors.some((e) => e.detail.code === 4000), 'the 4000');
    expect(visitor.state).to.equal('connected');
  });

  it('repairs a gap in seq with a history request', async () => {
    const tracked = trackedWebSocket();
    const { visitorId, visitor, agent } = await visitorWithAgent({ WebSocket: tracked.WebSocket });
    await agent.send('one');
    await waitFor(() => storedContents(visitor).length === 1, 'the first message');
    // Make the server skip deliveries to this socket: leave, let two messages pass, come back after them.
    const socket = tracked.sockets.at(-1)!;
    socket.send(JSON.stringify(clientFrame('leave_room', { conversation_id: visitorId })));
    await sleep(100);
    await agent.send('two');
    await sleep(100);
    await agent.send('three');
    await waitFor(() => storedContents(agent).length === 3, 'acks');
    socket.send(JSON.stringify(clientFrame('join_room', { conversation_id: visitorId, last_seq: 3 })));
    await sleep(200);
    expect(storedContents(visitor)).to.deep.equal(['one']);
    await agent.send('four'); // arrives with seq 4 while the client holds only 1
    await waitFor(() => storedContents(visitor).length === 4, 'the gap filled');
    expect(storedContents(visitor)).to.deep.equal(['one', 'two', 'three', 'four']);
  });

  it('a message retried while the first try is still being stored is stored and shown once', async () => {
    const { visitor, agent } = await visitorWithAgent({ timing: { sendRetryMs: 30 } });
    const updates = record(visitor, 'update');
    await lockStore(server);
    await visitor.send('retried');
    await sleep(80); // the 30 ms retry timer has fired at least once while the store is held
    await unlockStore(server);
    await waitFor(() => storedContents(agent).includes('retried'), 'delivery', 10_000);
    await sleep(300);
    expect(storedContents(agent).filter((c) => c === 'retried')).to.have.length(1);
    expect(visitor.messages.filter((m) => m.content === 'retried')).to.have.length(1);
    expect(updates.filter((u) => u.detail.message.status === 'sending').length).to.be.greaterThan(0);
  });

  it('marks a message failed when its tries get no ack, keeps it, and retry() sends it again (stored once)', async () => {
    const { visitor, agent } = await visitorWithAgent({ timing: { sendRetryMs: 100, sendTries: 3 } });
    const statusOf = (id: string) => visitor.messages.find((m) => m.message_id === id)?.status;
    await signalServer(server, 'SIGSTOP'); // the socket stays open, nothing answers
    let id = '';
    try {
      id = (await visitor.send('no ack yet')).message_id;
      await waitFor(() => statusOf(id) === 'failed', 'the failed status', 3000);
      expect(visitor.messages.map((m) => m.content)).to.include('no ack yet');
      await visitor.retry(id);
      expect(statusOf(id)).to.be.oneOf(['queued', 'sending']);
    } finally {
      await signalServer(server, 'SIGCONT');
    }
    await waitFor(() => storedContents(agent).includes('no ack yet'), 'delivery', 10_000);
    await waitFor(() => statusOf(id) === 'sent', 'the ack');
    await sleep(300);
    expect(storedContents(agent).filter((c) => c === 'no ack yet')).to.have.length(1);
    expect(visitor.messages.filter((m) => m.content === 'no ack yet')).to.have.length(1);
  });

  it('after 4003 it does not come back on its own (offline and online again, visible page, send), only on reconnect()', async () => {
    const client = open({ token: await makeToken({ sub: uniqueId('v') }), conversationId: uniqueId('someone-else') });
    await waitForState(client, 'stopped');
    const states = record(client, 'state');
    window.dispatchEvent(new Event('offline')); // not "offline" either: back online it would claim to be, and stay
    window.dispatchEvent(new Event('online'));
    document.dispatchEvent(new Event('visibilitychange'));
    await client.send('queued, not a reason to retry a refused conversation');
    await sleep(300);
    expect(states).to.have.length(0);
    client.reconnect();
    await waitFor(() => states.some((s) => s.detail.state === 'connecting'), 'a manual attempt');
  });

  it('a read on another device of the same user moves neither the peer read state nor the own messages to "read"', async () => {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const phone = open({ token, shareConnection: false });
    const laptop = open({ token, shareConnection: false });
    const agent = open({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitorId });
    for (const c of [phone, laptop, agent]) await waitForState(c, 'connected');
    const reads = record(laptop, 'read');
    const mine = await laptop.send('mine');
    await waitFor(() => storedContents(agent).length === 1, 'delivery');
    await agent.send('theirs');
    await waitFor(() => storedContents(phone).length === 2, 'both at the phone');
    phone.markRead(); // the visitor reads on the phone
    await sleep(400);
    expect(reads).to.have.length(0);
    expect(laptop.messages.find((m) => m.message_id === mine.message_id)?.status).to.equal('sent');
  });

  it('a message that failed its tries is sent again on the next connection, once', async () => {
    const { visitor, agent } = await visitorWithAgent({ timing: { sendRetryMs: 100, sendTries: 2, reconnectDelaysMs: [0, 100, 200, 400, 800] } });
    await signalServer(server, 'SIGSTOP');
    let id = '';
    try {
      id = (await visitor.send('failed, then resent')).message_id;
      await waitFor(() => visitor.messages.find((m) => m.message_id === id)?.status === 'failed', 'the failed status', 3000);
    } finally {
      await signalServer(server, 'SIGKILL'); // the tries die with it, unread
    }
    server = await restartChatServer(server);
    visitor.reconnect();
    agent.reconnect();
    await waitFor(() => visitor.messages.find((m) => m.message_id === id)?.status === 'sent', 'resent and acked', 10_000);
    await waitFor(() => storedContents(agent).includes('failed, then resent'), 'delivered');
    expect(storedContents(agent).filter((c) => c === 'failed, then resent')).to.have.length(1);
  });
});

