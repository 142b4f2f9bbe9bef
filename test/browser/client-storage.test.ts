// IndexedDB missing, refusing, or taken away mid-session (private modes, in-app browsers,
// eviction): the client keeps working from memory and says so, never crashes.
import { expect } from '@open-wc/testing';
import { LiveChatClient } from '../../src/client/index.js';
import { IdbChatStore, type ChatStore } from '../../src/outbox/index.js';
import { makeToken, record, restartChatServer, startChatServer, stopChatServer, storedContents, uniqueId, waitFor, waitForState, type ServerInfo } from './harness.js';

describe('LiveChatClient without IndexedDB', () => {
  let server: ServerInfo;
  const clients: LiveChatClient[] = [];
  const realIndexedDB = Object.getOwnPropertyDescriptor(window, 'indexedDB')!;

  before(async () => {
    server = await startChatServer();
  });
  after(async () => {
    await stopChatServer(server);
  });
  afterEach(() => {
    Object.defineProperty(window, 'indexedDB', realIndexedDB);
    for (const client of clients.splice(0)) client.close();
  });

  async function chatWith(visitorId: string) {
    const agent = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitorId });
    clients.push(agent);
    await waitForState(agent, 'connected');
    return agent;
  }

  for (const [how, replacement] of [
    ['missing', { value: undefined, configurable: true }],
    ['refusing to open', { get: () => ({ open: () => { throw new DOMException('The user denied permission to access the database.', 'SecurityError'); } }), configurable: true }],
  ] as const) {
    it(`IndexedDB ${how}: falls back to memory, warns through 'storage', and still sends and receives`, async () => {
      Object.defineProperty(window, 'indexedDB', replacement);
      const visitorId = uniqueId('v');
      const client = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: visitorId }) });
      clients.push(client);
      const storage = record(client, 'storage');
      await client.ready;
      expect(client.persistent).to.equal(false);
      expect(storage.map((s) => s.detail)).to.deep.equal([{ persistent: false }]);
      await waitForState(client, 'connected');
      const agent = await chatWith(visitorId);
      await client.send('from memory');
      await agent.send('to memory');
      await waitFor(() => storedContents(client).length === 2, 'both messages');
      expect(storedContents(agent)).to.deep.equal(['from memory', 'to memory']);
    });
  }

  it('IndexedDB taken away mid-session (the database deleted): the next message is kept in memory, with a warning', async () => {
    const visitorId = uniqueId('v');
    const client = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: visitorId }) });
    clients.push(client);
    await waitForState(client, 'connected');
    expect(client.persistent).to.equal(true);
    const storage = record(client, 'storage');
    const agent = await chatWith(visitorId);
    await new Promise<void>((resolve) => {
      const request = indexedDB.deleteDatabase(`live-chat:${visitorId}@${new URL(server.wsUrl).host}`);
      request.onsuccess = () => resolve();
      request.onerror = () => resolve();
    });
    await client.send('after the database went away');
    expect(client.persistent).to.equal(false);
    expect(storage.map((s) => s.detail)).to.deep.equal([{ persistent: false }]);
    await waitFor(() => storedContents(agent).includes('after the database went away'), 'delivery');
  });

  /** The visitor's database, opened as a tab's store that can be made to fail (quota, eviction) from `broken` on. */
  async function breakableStore(visitorId: string, broken: () => boolean): Promise<ChatStore> {
    const inner = await IdbChatStore.open(`live-chat:${visitorId}@${new URL(server.wsUrl).host}`);
    const failing = <A extends unknown[], R>(method: (...args: A) => Promise<R>) => (...args: A) =>
      broken() ? Promise.reject(new DOMException('The quota has been exceeded.', 'QuotaExceededError')) : method.apply(inner, args);
    return Object.assign(Object.create(inner) as ChatStore, { putOutbox: failing(inner.putOutbox), outbox: failing(inner.outbox) });
  }

  it('a tab whose storage fails while another tab holds the socket sends on its own: its message is not left where the holder cannot read it', async () => {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const agent = await chatWith(visitorId);
    const holder = new LiveChatClient({ url: server.wsUrl, token });
    clients.push(holder);
    await waitForState(holder, 'connected');
    let broken = false;
    const tab = new LiveChatClient({ url: server.wsUrl, token, store: await breakableStore(visitorId, () => broken) });
    clients.push(tab);
    await waitForState(tab, 'connected');
    expect(tab.holdsConnection).to.equal(false);
    broken = true;
    await tab.send('written as the quota ran out');
    expect(tab.persistent).to.equal(false);
    await waitFor(() => storedContents(agent).includes('written as the quota ran out'), 'delivery', 5000);
    expect(storedContents(agent)).to.deep.equal(['written as the quota ran out']);
    expect(holder.state).to.equal('connected'); // neither replaced the other
    await waitFor(() => storedContents(tab).includes('written as the quota ran out'), 'acked in the tab');
  });

  it('the holding tab whose storage fails as the view moves on (closeWhenSent) still delivers the reply, on its own socket, and never says stopped before', async () => {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const agent = await chatWith(visitorId);
    let broken = false;
    const holder = new LiveChatClient({ url: server.wsUrl, token, store: await breakableStore(visitorId, () => broken) });
    clients.push(holder);
    await waitForState(holder, 'connected');
    const other = new LiveChatClient({ url: server.wsUrl, token });
    clients.push(other);
    await waitForState(other, 'connected');
    expect(holder.holdsConnection).to.equal(true);
    const states = record(holder, 'state');
    broken = true;
    const sending = holder.send('the last word, as the quota ran out');
    holder.closeWhenSent();
    await sending;
    await waitFor(() => storedContents(agent).includes('the last word, as the quota ran out'), 'delivered', 5000);
    const stoppedAt = states.findIndex((s) => s.detail.state === 'stopped');
    expect(stoppedAt === -1 || states.slice(0, stoppedAt).some((s) => s.detail.state === 'connected'), 'stopped only once delivered').to.equal(true);
    await waitFor(() => other.holdsConnection, 'the other tab holds the shared socket now');
    await waitForState(other, 'connected');
  });

  it('storage lost with messages waiting: the waiting ones go out first, in the order written, then the new one', async () => {
    const visitorId = uniqueId('v');
    const agent = await chatWith(visitorId);
    let broken = false;
    const client = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: visitorId }), store: await breakableStore(visitorId, () => broken), shareConnection: false });
    clients.push(client);
    await waitForState(client, 'connected');
    await stopChatServer(server);
    try {
      await client.send('one');
      await client.send('two');
      broken = true; // the database is gone: neither written nor read any more
      await client.send('three');
      expect(client.persistent).to.equal(false);
    } finally {
      server = await restartChatServer(server);
    }
    client.reconnect();
    await waitFor(() => storedContents(agent).length === 3, 'all three delivered', 8000);
    expect(storedContents(agent)).to.deep.equal(['one', 'two', 'three']);
  });
});
