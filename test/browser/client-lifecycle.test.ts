// LiveChatClient against the real server in real Chromium: the lifecycle, sending and
// receiving, statuses, read receipts, typing, history, and a reload in the middle.
import { expect } from '@open-wc/testing';
import { LiveChatClient, type ClientMessage, type LiveChatClientOptions } from '../../src/client/index.js';
import { IdbChatStore } from '../../src/outbox/index.js';
import { clientFrame, newMessageId } from '../../src/protocol/index.js';
import { filteringIncoming, makeToken, record, signalServer, sleep, startChatServer, storedContents, trackedWebSocket, uniqueId, waitFor, waitForState, type ServerInfo } from './harness.js';

describe('LiveChatClient lifecycle', () => {
  let server: ServerInfo;
  const clients: LiveChatClient[] = [];

  before(async () => {
    server = await startChatServer({ RATE_LIMIT_PER_MINUTE: '1000' });
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  function open(options: Omit<LiveChatClientOptions, 'url'>): LiveChatClient {
    const client = new LiveChatClient({ url: server.wsUrl, ...options });
    clients.push(client);
    return client;
  }

  /** A visitor and an agent on the visitor's conversation, both connected. */
  async function pair() {
    const visitorId = uniqueId('visitor');
    const visitor = open({ token: await makeToken({ sub: visitorId }) });
    const agent = open({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitorId });
    await waitForState(visitor, 'connected');
    await waitForState(agent, 'connected');
    return { visitorId, visitor, agent };
  }

  it('goes idle → connecting → authenticating → joining → connected, joining its own conversation', async () => {
    const sub = uniqueId('visitor');
    const client = open({ token: await makeToken({ sub }) });
    const states = record(client, 'state');
    await waitForState(client, 'connected');
    expect(states.map((s) => s.detail.state)).to.deep.equal(['connecting', 'authenticating', 'joining', 'connected']);
    expect(client.conversationId).to.equal(sub);
    expect(client.userId).to.equal(sub);
    expect(client.persistent).to.equal(true);
    expect(client.holdsConnection).to.equal(true);
  });

  it('send() resolves once the message is in the outbox, then it is acked (sent, with seq) and reaches the other side once', async () => {
    const { visitor, agent } = await pair();
    const updates = record(visitor, 'update');
    const sent = await visitor.send('  Hello, is anyone there?  ');
    expect(sent.status).to.equal('queued');
    expect(sent.mine).to.equal(true);
    expect(sent.seq).to.equal(undefined);
    const acked = await waitFor(() => visitor.messages.find((m) => m.message_id === sent.message_id && m.status === 'sent'), 'the ack');
    expect(acked.seq).to.equal(1);
    expect(acked.content).to.equal('  Hello, is anyone there?  ');
    expect(updates.map((u) => u.detail.message.status)).to.include.members(['sending', 'sent']);
    const received = await waitFor(() => agent.messages.find((m) => m.message_id === sent.message_id), 'delivery to the agent');
    expect(received).to.include({ mine: false, seq: 1, sender_id: visitor.userId, sender_role: 'user' });
    await new Promise((r) => setTimeout(r, 200));
    expect(visitor.messages.filter((m) => m.message_id === sent.message_id)).to.have.length(1);
    expect(agent.messages.filter((m) => m.message_id === sent.message_id)).to.have.length(1);
  });

  it('refuses content the server would refuse, before anything is stored', async () => {
    const { visitor } = await pair();
    for (const bad of ['', '   ', 'x'.repeat(4001), 'a\u0000b', '\uD800']) {
      let error: unknown;
      try {
        await visitor.send(bad);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(bad)).to.be.instanceOf(Error);
    }
    expect(visitor.messages).to.have.length(0);
  });

  it('keeps order: messages sent in a burst get consecutive seq in the order written', async () => {
    const { visitor, agent } = await pair();
    for (let i = 1; i <= 8; i++) await visitor.send(`burst ${i}`);
    await waitFor(() => storedContents(agent).length === 8, '8 messages at the agent');
    expect(storedContents(agent)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8].map((i) => `burst ${i}`));
    expect(visitor.messages.map((m) => m.seq)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('shows "read" on own messages when the other side marks them read, and remembers it after a reload', async () => {
    const { visitorId, visitor, agent } = await pair();
    const reads = record(visitor, 'read');
    const mine = await visitor.send('please read me');
    await waitFor(() => agent.messages.length === 1, 'delivery');
    agent.markRead();
    await waitFor(() => visitor.messages.find((m) => m.message_id === mine.message_id)?.status === 'read', 'read status');
    expect(reads[0]?.detail).to.deep.equal({ user_id: agent.userId, seq: 1 });
    visitor.close();
    const reloaded = open({ token: await makeToken({ sub: visitorId }) });
    await reloaded.ready;
    expect(reloaded.messages.find((m) => m.message_id === mine.message_id)?.status).to.equal('read');
  });

  it('a read receipt lost on a socket that died unnoticed is sent again after the next join', async () => {
    let lose = false;
    const sockets: WebSocket[] = [];
    class Lossy extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
      override send(data: string) {
        if (!(lose && data.includes('"status":"read"'))) super.send(data);
      }
    }
    const visitorId = uniqueId('visitor');
    const visitor = open({ token: await makeToken({ sub: visitorId }), WebSocket: Lossy, timing: { reconnectDelaysMs: [0, 100] } });
    const agent = open({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitorId });
    await waitForState(visitor, 'connected');
    await waitForState(agent, 'connected');
    await agent.send('did you get this?');
    await waitFor(() => storedContents(visitor).length === 1, 'delivered');
    lose = true;
    visitor.markRead();
    await sleep(200);
    expect(agent.messages[0]!.status).to.equal('sent');
    lose = false;
    sockets.at(-1)!.close(); // the socket the receipt was lost on goes; the client reconnects and joins
    await waitFor(() => sockets.length === 2 && visitor.state === 'connected', 'joined again');
    await waitFor(() => agent.messages[0]!.status === 'read', 'the receipt at the agent');
  });

  it('forwards typing to the other side', async () => {
    const { visitor, agent } = await pair();
    const typing = record(agent, 'typing');
    visitor.setTyping(true);
    await waitFor(() => typing.length, 'typing at the agent');
    expect(typing[0]!.detail).to.deep.equal({ user_id: visitor.userId, is_typing: true });
    visitor.setTyping(false);
    await waitFor(() => typing.length === 2, 'typing false');
    expect(typing[1]!.detail.is_typing).to.equal(false);
  });

  it('shows the cached conversation at once after a reload and joins from its last seq (nothing twice)', async () => {
    const { visitorId, visitor, agent } = await pair();
    for (let i = 1; i <= 3; i++) await visitor.send(`before reload ${i}`);
    await waitFor(() => storedContents(visitor).length === 3, 'acks');
    visitor.close();
    await agent.send('sent while the visitor was away');
    const reloaded = open({ token: await makeToken({ sub: visitorId }) });
    await reloaded.ready;
    expect(storedContents(reloaded)).to.deep.equal(['before reload 1', 'before reload 2', 'before reload 3']);
    await waitFor(() => storedContents(reloaded).length === 4, 'the message sent meanwhile');
    expect(storedContents(reloaded)).to.deep.equal(['before reload 1', 'before reload 2', 'before reload 3', 'sent while the visitor was away']);
    expect(new Set(reloaded.messages.map((m) => m.message_id)).size).to.equal(4);
  });

  /** Writes `count` messages into `conversationId` as an agent on a raw socket, all at once; resolves once all are acked. */
  async function flood(conversationId: string, count: number) {
    const socket = new WebSocket(server.wsUrl);
    await new Promise((resolve) => (socket.onopen = resolve));
    let acked = 0;
    const done = new Promise<void>((resolve) => {
      socket.onmessage = (event) => {
        const frame = JSON.parse(event.data as string) as { type: string; payload: { seq?: number } };
        if (frame.type === 'auth') socket.send(JSON.stringify(clientFrame('join_room', { conversation_id: conversationId })));
        if (frame.type === 'history') {
          for (let i = 1; i <= count; i++) socket.send(JSON.stringify(clientFrame('send_message', { conversation_id: conversationId, content: `flood ${i}`, content_type: 'text' })));
        }
        if (frame.type === 'message_ack' && frame.payload.seq !== undefined && ++acked === count) resolve();
      };
    });
    socket.send(JSON.stringify(clientFrame('auth', { token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }) })));
    await done;
    socket.close();
  }

  /** The seqs held right after a gap. */
  const gaps = (client: LiveChatClient) => {
    const seqs = client.messages.flatMap((m) => (m.seq === undefined ? [] : [m.seq]));
    return seqs.filter((seq, i) => i > 0 && seq !== seqs[i - 1]! + 1);
  };

  it('a long replay cut short after its own message was acked: the next join (here a reload) still fetches what the replay had not reached', async () => {
    const visitorId = uniqueId('v');
    const first = open({ token: await makeToken({ sub: visitorId }) });
    await first.send('before');
    await waitFor(() => storedContents(first).length === 1, 'stored');
    first.close();
    await flood(visitorId, 800); // a replay of 500, then pages of 100 after it
    const store = await IdbChatStore.open(`live-chat:${visitorId}@${new URL(server.wsUrl).host}`);
    await store.putOutbox({ message_id: newMessageId(), conversation_id: visitorId, content: 'written offline', queued_at: Date.now(), status: 'queued' });
    store.close();
    const { WebSocket, sockets } = trackedWebSocket();
    const second = open({ token: await makeToken({ sub: visitorId }), WebSocket, shareConnection: false });
    // Its own message acked (at a seq past the replay's end), the line drops before the replay has caught up, and the page reloads.
    await waitFor(() => second.messages.some((m) => m.content === 'written offline' && m.seq !== undefined), 'its own message acked');
    second.close();
    expect(sockets.length).to.equal(1);
    const third = open({ token: await makeToken({ sub: visitorId }), shareConnection: false });
    await waitForState(third, 'connected');
    await waitFor(() => third.messages.at(-1)?.content === 'written offline', 'the newest held');
    await sleep(300);
    expect(gaps(third)).to.deep.equal([]);
    expect(third.messages.at(-2)?.content).to.equal('flood 800');
  });

  it('a kept mark past what the cache holds (its last writes did not land: quota, a closed page) is not trusted: the join fetches the rest', async () => {
    const { visitorId, visitor, agent } = await pair();
    for (let i = 1; i <= 8; i++) await agent.send(`m${i}`);
    await waitFor(() => storedContents(visitor).length === 8, 'all eight held');
    visitor.close();
    const store = await IdbChatStore.open(`live-chat:${visitorId}@${new URL(server.wsUrl).host}`);
    const kept = await store.messages(visitorId, 100);
    await store.clearConversation(visitorId);
    await store.putMessages(kept.slice(0, 5));
    await store.putReadState(visitorId, { read_seq: 0, peer_read_seq: 0, synced_seq: 8 });
    store.close();
    const reloaded = open({ token: await makeToken({ sub: visitorId }) });
    await waitForState(reloaded, 'connected');
    await waitFor(() => storedContents(reloaded).length === 8, 'the three the cache lacked, fetched');
  });

  it('a message written after a reload follows those still waiting, even with the clock set back since they were written', async () => {
    const visitorId = uniqueId('v');
    const store = await IdbChatStore.open(`live-chat:${visitorId}@${new URL(server.wsUrl).host}`);
    const first = 'written before the reload, the clock 2 minutes fast';
    await store.putOutbox({ message_id: newMessageId(), conversation_id: visitorId, content: first, queued_at: Date.now() + 120_000, status: 'queued' });
    store.close();
    await signalServer(server, 'SIGSTOP'); // both wait in the outbox
    let client: LiveChatClient;
    try {
      client = open({ token: await makeToken({ sub: visitorId }) });
      await client.ready;
      await client.send('written after it');
      expect(client.messages.map((m) => m.content)).to.deep.equal([first, 'written after it']);
    } finally {
      await signalServer(server, 'SIGCONT');
    }
    await waitFor(() => storedContents(client).length === 2, 'both stored', 15_000);
    expect(storedContents(client)).to.deep.equal([first, 'written after it']);
  });

  it('loadOlder() pages back through a long conversation', async () => {
    const { visitorId, agent } = await pair();
    for (let i = 1; i <= 70; i++) await agent.send(`m${i}`);
    await waitFor(() => storedContents(agent).length === 70, 'acks');
    const fresh = open({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitorId });
    await waitForState(fresh, 'connected');
    expect(storedContents(fresh)).to.have.length(50); // the newest 50, as a join without last_seq gives
    expect(fresh.messages[0]!.seq).to.equal(21);
    expect(await fresh.loadOlder()).to.equal(false);
    expect(fresh.messages.map((m) => m.seq)).to.deep.equal(Array.from({ length: 70 }, (_, i) => i + 1));
  });

  it('emits message events for incoming messages, in seq order', async () => {
    const { visitor, agent } = await pair();
    const seen: ClientMessage[] = [];
    visitor.on('message', ({ message }) => seen.push(message));
    for (let i = 1; i <= 3; i++) await agent.send(`agent ${i}`);
    await waitFor(() => seen.filter((m) => m.seq).length === 3, 'three messages');
    expect(seen.map((m) => m.content)).to.deep.equal(['agent 1', 'agent 2', 'agent 3']);
    expect(seen.every((m) => !m.mine && m.sender_role === 'agent')).to.equal(true);
  });

  it("works with a server whose history after a join carries no envelope message_id (the contract ties only a history request's answer by id)", async () => {
    // The real server, its join replays stripped of the id this server adds as a choice of its own.
    class Plain extends filteringIncoming((event, deliver) => {
      const frame = JSON.parse(event.data as string) as { type: string; message_id?: string; payload: { messages?: unknown[] } };
      if (frame.type === 'history' && joinIds.has(frame.message_id ?? '')) delete frame.message_id;
      deliver(new MessageEvent('message', { data: JSON.stringify(frame) }));
    }) {
      override send(data: string): void {
        const frame = JSON.parse(data) as { type: string; message_id?: string };
        if (frame.type === 'join_room') joinIds.add(frame.message_id!);
        super.send(data);
      }
    }
    const joinIds = new Set<string>();
    const sub = uniqueId('visitor');
    const agent = open({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: sub });
    await waitForState(agent, 'connected');
    await agent.send('waiting for you');
    const client = open({ token: await makeToken({ sub }), WebSocket: Plain, shareConnection: false });
    await waitForState(client, 'connected', 3000);
    expect(joinIds.size).to.equal(1);
    expect(storedContents(client)).to.deep.equal(['waiting for you']);
    await client.send('hello');
    await waitFor(() => storedContents(agent).includes('hello'), 'sent');
  });

  it('closeWhenSent(): closes at once with nothing to send, else once its messages are acked, and sooner when sending cannot go on', async () => {
    const idle = open({ token: await makeToken({ sub: uniqueId('visitor') }) });
    await waitForState(idle, 'connected');
    idle.closeWhenSent();
    await waitForState(idle, 'stopped', 200);

    // Alone on its conversation (no other client of that user to write the ack down for it).
    const writerId = uniqueId('visitor');
    const { WebSocket, sockets } = trackedWebSocket();
    const writer = open({ token: await makeToken({ sub: writerId }), shareConnection: false, WebSocket });
    await waitForState(writer, 'connected');
    const message = await writer.send('the last word');
    writer.closeWhenSent();
    expect(writer.state).to.equal('connected'); // still sending
    await waitForState(writer, 'stopped');
    expect(writer.messages.find((m) => m.message_id === message.message_id)?.seq).to.be.a('number');
    expect(sockets.every((socket) => socket.readyState === WebSocket.CLOSED || socket.readyState === WebSocket.CLOSING)).to.equal(true);
    // Its last ack was written down before it closed: opened again, the message is sent, not queued.
    const reopened = open({ token: await makeToken({ sub: writerId }), shareConnection: false, timing: { reconnectDelaysMs: [] } });
    await reopened.ready;
    expect(reopened.messages.find((m) => m.message_id === message.message_id)?.status).to.equal('sent');
    const writersAgent = open({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: writerId });
    await waitFor(() => storedContents(writersAgent).includes('the last word'), 'delivered');

    // A client that cannot send (no server there) keeps trying until its schedule is spent, then closes; the message stays in its outbox.
    const tracked = trackedWebSocket();
    const stranded = new LiveChatClient({
      url: 'ws://127.0.0.1:9/ws/chat',
      token: await makeToken({ sub: uniqueId('visitor') }),
      shareConnection: false,
      WebSocket: tracked.WebSocket,
      timing: { reconnectDelaysMs: [0, 100] },
    });
    clients.push(stranded);
    await stranded.send('kept for later');
    stranded.closeWhenSent();
    await waitForState(stranded, 'stopped', 3000);
    const tries = tracked.sockets.length;
    stranded.reconnect(); // closed: nothing happens
    await sleep(200);
    expect(tracked.sockets.length).to.equal(tries);
    expect(stranded.messages.map((m) => m.status)).to.deep.equal(['queued']);
  });

  it('closeWhenSent() while the browser is offline waits for the network (30 s at most): back online, the message goes out, then it closes', async () => {
    const sub = uniqueId('visitor');
    const client = open({ token: await makeToken({ sub }), shareConnection: false, timing: { openTimeoutMs: 300 } });
    await waitForState(client, 'connected');
    // The network gone as on a train: the server out of reach (frozen), navigator.onLine false, `offline` fired.
    await signalServer(server, 'SIGSTOP');
    Object.defineProperty(navigator, 'onLine', { configurable: true, get: () => false });
    try {
      window.dispatchEvent(new Event('offline'));
      await waitForState(client, 'offline', 1000);
      await client.send('written on a train'); // it tries, finds no network and gives up
      await waitForState(client, 'offline', 2000);
      client.closeWhenSent();
      await sleep(300);
      expect(client.state).to.equal('offline'); // not closed: waiting
    } finally {
      await signalServer(server, 'SIGCONT');
      delete (navigator as { onLine?: boolean }).onLine;
    }
    window.dispatchEvent(new Event('online'));
    await waitForState(client, 'stopped', 5000); // closed once acked
    expect(client.messages.map((m) => [m.content, m.status])).to.deep.equal([['written on a train', 'sent']]);
    const agent = open({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: sub });
    await waitFor(() => storedContents(agent).includes('written on a train'), 'delivered');
  });

  it('closed with a send under way, it stays closed: no new socket, and the message is kept in the outbox or refused, never half-sent', async () => {
    const sub = uniqueId('visitor');
    const { WebSocket, sockets } = trackedWebSocket();
    const client = open({ token: await makeToken({ sub }), WebSocket });
    await waitForState(client, 'connected');
    const sending = client.send('written as the page closed').then(
      () => 'kept',
      (error: Error) => error.message,
    );
    client.close();
    expect(await sending).to.match(/^kept$|closed/);
    await sleep(1500);
    expect(sockets.filter((s) => s.readyState !== WebSocket.CLOSED)).to.have.length(0);
    expect(sockets).to.have.length(1);
    client.reconnect();
    await sleep(200);
    expect(sockets).to.have.length(1);
  });
});
