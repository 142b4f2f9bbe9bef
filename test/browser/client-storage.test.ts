// IndexedDB missing, refusing, or taken away mid-session (private modes, in-app browsers,
// eviction): the client keeps working from memory and says so, never crashes.
import { expect } from '@open-wc/testing';
import { LiveChatClient } from '../../src/client/index.js';
import { makeToken, record, startChatServer, stopChatServer, storedContents, uniqueId, waitFor, waitForState, type ServerInfo } from './harness.js';

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
});
