// One connection per device: tabs of one browser profile (pages of one browser context) share
// one socket through a Web Lock and a BroadcastChannel. Two and three tabs, and the holding tab
// closed in the middle of a stream of messages: nothing lost, nothing doubled, no 4009.
import { expect } from '@open-wc/testing';
import { LiveChatClient } from '../../src/client/index.js';
import { IdbChatStore, type ChatStore } from '../../src/outbox/index.js';
import { filteringIncoming, makeToken, serverMetrics, sleep, startChatServer, stopChatServer, storedContents, Tab, uniqueId, waitFor, waitForState, type ServerInfo } from './harness.js';

/** Connections the server holds open, read from its metrics. */
async function openConnections(server: ServerInfo): Promise<number> {
  const text = await serverMetrics(server);
  return Number(/^live_chat_connections (\d+)$/m.exec(text)?.[1] ?? NaN);
}

describe('LiveChatClient across tabs', () => {
  let server: ServerInfo;
  const tabs: Tab[] = [];
  const clients: LiveChatClient[] = [];

  before(async () => {
    server = await startChatServer({ RATE_LIMIT_PER_MINUTE: '1000' });
  });
  after(async () => {
    await stopChatServer(server);
  });
  afterEach(async () => {
    for (const tab of tabs.splice(0)) await tab.close();
    for (const client of clients.splice(0)) client.close();
  });

  async function setup(tabCount: number) {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const agent = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitorId });
    clients.push(agent);
    await waitForState(agent, 'connected');
    const opened: Tab[] = [];
    for (let i = 0; i < tabCount; i++) {
      const tab = await Tab.open({ url: server.wsUrl, token });
      tabs.push(tab);
      opened.push(tab);
    }
    await waitFor(async () => (await Promise.all(opened.map((t) => t.eval<string>('return client.state')))).every((s) => s === 'connected'), 'every tab connected');
    return { visitorId, agent, tabs: opened };
  }

  /** The real cache of `visitorId`'s tabs, whose message writes wait while the gate is closed; close() returns what opens it. */
  async function gatedStore(visitorId: string) {
    let gate: Promise<void> | undefined;
    const inner = await IdbChatStore.open(`live-chat:${visitorId}@${new URL(server.wsUrl).host}`);
    const store: ChatStore = Object.assign(Object.create(inner) as ChatStore, {
      putMessages: async (messages: Parameters<ChatStore['putMessages']>[0]) => {
        await gate;
        return inner.putMessages(messages);
      },
    });
    const close = () => {
      let open!: () => void;
      gate = new Promise<void>((resolve) => (open = resolve));
      return open;
    };
    return { store, close };
  }

  const holders = (list: Tab[]) => Promise.all(list.map((t) => t.eval<boolean>('return client.holdsConnection')));
  const contents = (tab: Tab) => tab.eval<string[]>("return client.messages.filter((m) => m.seq !== undefined).map((m) => m.content)");

  it('two tabs share one socket: one holds it, both send and both receive', async () => {
    const { agent, tabs: [a, b] } = await setup(2);
    expect((await holders([a!, b!])).filter(Boolean)).to.have.length(1);
    expect(await openConnections(server)).to.equal(2); // the agent's and the one shared by the tabs
    await a!.eval("await client.send('from tab A')");
    await b!.eval("await client.send('from tab B')");
    await waitFor(() => storedContents(agent).length === 2, 'both messages at the agent');
    expect(storedContents(agent)).to.deep.equal(['from tab A', 'from tab B']);
    await agent.send('to both tabs');
    for (const tab of [a!, b!]) {
      await waitFor(async () => (await contents(tab)).length === 3, 'three messages in each tab');
      expect(await contents(tab)).to.deep.equal(['from tab A', 'from tab B', 'to both tabs']);
    }
    expect(await b!.eval("return client.messages.find((m) => m.content === 'from tab B').status")).to.equal('sent');
  });

  it('three tabs: still one socket, no tab replaced (4009), typing and state reach every tab', async () => {
    const { agent, tabs: three } = await setup(3);
    expect((await holders(three)).filter(Boolean)).to.have.length(1);
    expect(await openConnections(server)).to.equal(2);
    await sleep(300);
    for (const tab of three) expect(await tab.eval('return client.state')).to.equal('connected');
    await three[2]!.eval('window.typing = []; client.on("typing", (t) => window.typing.push(t))');
    agent.setTyping(true);
    await waitFor(() => three[2]!.eval<number>('return window.typing.length'), 'typing in the third tab');
  });

  it('a tab that opens does not make the other tabs hear their state again', async () => {
    const { visitorId, tabs: [a, b] } = await setup(2);
    for (const tab of [a!, b!]) await tab.eval('window.states = []; client.on("state", (e) => window.states.push(e.state))');
    const token = await makeToken({ sub: visitorId });
    for (let i = 0; i < 2; i++) {
      const more = await Tab.open({ url: server.wsUrl, token });
      tabs.push(more);
      await waitFor(async () => (await more.eval<string>('return client.state')) === 'connected', 'the new tab connected');
    }
    await sleep(300);
    for (const tab of [a!, b!]) expect(await tab.eval<string[]>('return window.states')).to.deep.equal([]);
  });

  it('the holding tab closed mid-stream: another takes over; every message arrives once, in order', async () => {
    const { agent, tabs: [a, b, c] } = await setup(3);
    const all = [a!, b!, c!];
    const holderIndex = (await holders(all)).indexOf(true);
    const holder = all[holderIndex]!;
    const others = all.filter((_, i) => i !== holderIndex);
    const writer = others[0]!;
    const watcher = others[1]!;
    // A stream from a tab that stays, and from the agent, while the holder goes away.
    const stream = (async () => {
      for (let i = 1; i <= 12; i++) {
        await writer.eval(`await client.send('tab ${i}')`);
        await agent.send(`agent ${i}`);
        await sleep(40);
      }
    })();
    await sleep(150);
    await holder.close();
    tabs.splice(tabs.indexOf(holder), 1);
    await stream;
    await waitFor(async () => (await holders(others)).filter(Boolean).length === 1, 'a new holder');
    await waitFor(() => storedContents(agent).length === 24, 'all 24 messages stored', 15_000);
    const expectedTab = Array.from({ length: 12 }, (_, i) => `tab ${i + 1}`);
    const fromTab = storedContents(agent).filter((c) => c.startsWith('tab '));
    expect(fromTab).to.deep.equal(expectedTab);
    for (const tab of others) {
      await waitFor(async () => (await contents(tab)).length === 24, 'all 24 in a remaining tab', 10_000);
      const seen = await contents(tab);
      expect(new Set(seen).size).to.equal(24);
      expect(await tab.eval<number[]>('return client.messages.map((m) => m.seq)')).to.deep.equal(Array.from({ length: 24 }, (_, i) => i + 1));
    }
    expect(await watcher.eval('return client.state')).to.equal('connected');
  });

  it('a tab starting while the holder hears news misses none of it (a message, a read elsewhere)', async () => {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const agent = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitorId });
    const holder = new LiveChatClient({ url: server.wsUrl, token });
    clients.push(agent, holder);
    await Promise.all([waitForState(agent, 'connected'), waitForState(holder, 'connected')]);
    await agent.send('before the tab');
    await waitFor(() => storedContents(holder).length === 1, 'the first message at the holder');
    // The starting tab's cache read is taken now and handed over only when the news has come and gone.
    let handOver!: () => void;
    const held = new Promise<void>((resolve) => (handOver = resolve));
    const inner = await IdbChatStore.open(`live-chat:${visitorId}@${new URL(server.wsUrl).host}`);
    const store: ChatStore = Object.assign(Object.create(inner) as ChatStore, {
      messages: async (conversationId: string, limit: number) => {
        const read = inner.messages(conversationId, limit);
        await held;
        return read;
      },
      readState: async (conversationId: string) => {
        const read = inner.readState(conversationId);
        await held;
        return read;
      },
    });
    const starting = new LiveChatClient({ url: server.wsUrl, token, store });
    clients.push(starting);
    await sleep(100); // its reads are under way
    await agent.send('while the tab starts');
    await waitFor(() => storedContents(holder).length === 2, 'the news at the holder');
    holder.markRead();
    await waitFor(() => holder.readSeq === 2, 'read at the holder');
    await sleep(100); // what the holder told the tabs has been delivered
    handOver();
    await starting.ready;
    await waitFor(() => storedContents(starting).length === 2, 'both messages in the starting tab', 3000);
    expect(storedContents(starting)).to.deep.equal(['before the tab', 'while the tab starts']);
    expect(starting.readSeq).to.equal(2);
    expect(starting.holdsConnection).to.equal(false);
  });

  it('a tab starting just after the holder heard a message, before the holder stored it, still shows it', async () => {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const agent = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitorId });
    // The holder's cache writes wait at a gate: the news is heard and told before it is in the store.
    const gated = await gatedStore(visitorId);
    const holder = new LiveChatClient({ url: server.wsUrl, token, store: gated.store });
    clients.push(agent, holder);
    await Promise.all([waitForState(agent, 'connected'), waitForState(holder, 'connected')]);
    const openGate = gated.close();
    await agent.send('heard before it was stored');
    await waitFor(() => storedContents(holder).length === 1, 'the news at the holder');
    await sleep(50); // whatever the holder told the tabs has gone out
    const starting = new LiveChatClient({ url: server.wsUrl, token });
    clients.push(starting);
    await starting.ready; // its cache read, without the news
    openGate();
    await waitFor(() => storedContents(starting).length === 1, () => `the news in the starting tab, got ${JSON.stringify(storedContents(starting))}`, 3000);
    expect(starting.holdsConnection).to.equal(false);
  });

  it('the holding tab closed right after an ack, before its cache write landed: the other tabs still show the message as sent', async () => {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const gated = await gatedStore(visitorId);
    const holder = new LiveChatClient({ url: server.wsUrl, token, store: gated.store });
    clients.push(holder);
    await waitForState(holder, 'connected');
    class Unreachable extends WebSocket {
      constructor(_url: string | URL, protocols?: string | string[]) {
        super('ws://127.0.0.1:9/', protocols); // this tab has no network: only what the holder told it counts
      }
    }
    const other = new LiveChatClient({ url: server.wsUrl, token, WebSocket: Unreachable });
    clients.push(other);
    await other.ready;
    gated.close(); // the holder's cache write never lands
    const message = await holder.send('acked just before the tab closed');
    holder.closeWhenSent();
    await waitFor(() => other.holdsConnection, 'the other tab to take the socket over');
    await sleep(200);
    expect(other.messages.find((m) => m.message_id === message.message_id)?.seq).to.equal(1);
  });

  it('a tab taking the socket over while offline shows what the closed holder had on the wire as queued, not sending; sent once online', async () => {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const holderTab = await Tab.open({ url: server.wsUrl, token });
    tabs.push(holderTab);
    await waitFor(() => holderTab.eval<boolean>("return client.state === 'connected'"), 'the holding tab connected');
    // Its socket loses every message it sends: the follower's message stays on the wire, unanswered.
    await holderTab.eval("const send = WebSocket.prototype.send; WebSocket.prototype.send = function (data) { if (!String(data).includes('send_message')) send.call(this, data); }; return true");
    let offline = false;
    class Unreachable extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(offline ? 'ws://127.0.0.1:9/' : url, protocols); // no network: nothing answers
      }
    }
    const follower = new LiveChatClient({ url: server.wsUrl, token, WebSocket: Unreachable });
    clients.push(follower);
    await follower.ready;
    const message = await follower.send('on the holder\'s wire');
    const status = () => follower.messages.find((m) => m.message_id === message.message_id)?.status;
    await waitFor(() => status() === 'sending', 'sending through the holder');
    offline = true;
    Object.defineProperty(navigator, 'onLine', { configurable: true, get: () => false });
    try {
      window.dispatchEvent(new Event('offline'));
      tabs.splice(tabs.indexOf(holderTab), 1);
      await holderTab.close(); // closed at once, with no word to the other tabs
      await waitFor(() => follower.holdsConnection, 'the follower to take the socket over');
      await waitFor(() => status() === 'queued', () => `queued, got ${status()}`, 2000);
      await sleep(300);
      expect(status()).to.equal('queued');
    } finally {
      offline = false;
      delete (navigator as { onLine?: boolean }).onLine;
      window.dispatchEvent(new Event('online'));
    }
    await waitFor(() => storedContents(follower).length === 1, 'sent once online');
  });

  it('a tab taking the socket over after messages the holder never heard joins from what the tabs hold, not from the newest page', async () => {
    const visitorId = uniqueId('v');
    const agent = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitorId });
    clients.push(agent);
    await waitForState(agent, 'connected');
    for (let i = 1; i <= 110; i++) await agent.send(`m${i}`);
    await waitFor(() => storedContents(agent).length === 110, 'the first 110 stored', 15_000);
    let deaf = false;
    // A link that carries nothing in: the holder hears none of what is written meanwhile.
    const Deafening = filteringIncoming((event, deliver) => (deaf && String(event.data).includes('"type":"new_message"') ? undefined : deliver(event)));
    // Two tabs of a first visit, opened at once: neither has anything kept yet.
    const token = await makeToken({ sub: visitorId });
    const pair = [0, 1].map(() => new LiveChatClient({ url: server.wsUrl, token, WebSocket: Deafening }));
    clients.push(...pair);
    await waitFor(
      () => pair.every((c) => c.state === 'connected' && c.messages.length === 50),
      () => `both tabs showing the newest page (${pair.map((c) => `${c.state}, ${c.messages.length} messages`).join('; ')})`,
    );
    const [holder, follower] = pair[0]!.holdsConnection ? pair : [pair[1]!, pair[0]!];
    deaf = true;
    for (let i = 111; i <= 300; i++) await agent.send(`m${i}`);
    await waitFor(() => storedContents(agent).length === 300, 'the rest stored, unheard by the holder', 15_000);
    deaf = false;
    holder!.close();
    await waitFor(() => follower!.holdsConnection && follower!.messages.at(-1)?.content === 'm300', 'the follower holding the socket, up to date');
    await sleep(300);
    const seqs = follower!.messages.map((m) => m.seq!);
    expect(seqs.filter((seq, i) => i > 0 && seq !== seqs[i - 1]! + 1)).to.deep.equal([]);
  });

  it('without Web Locks each tab connects on its own, without a device id, so none replaces another', async () => {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const opened = [await Tab.open({ url: server.wsUrl, token, withoutLocks: true }), await Tab.open({ url: server.wsUrl, token, withoutLocks: true })];
    tabs.push(...opened);
    await waitFor(async () => (await Promise.all(opened.map((t) => t.eval<string>('return client.state')))).every((s) => s === 'connected'), 'both tabs connected');
    expect(await holders(opened)).to.deep.equal([true, true]);
    await opened[0]!.eval("await client.send('tab one')");
    await waitFor(async () => (await contents(opened[1]!)).includes('tab one'), 'the message in the other tab');
    await sleep(300);
    for (const tab of opened) expect(await tab.eval('return client.state')).to.equal('connected');
  });
});

