// The <live-chat> element's life on a customer's page: created by script, removed and put back,
// configured late (a tokenProvider set by a later script, attributes changed at runtime), and
// reloaded (cached messages are not news and read ones are not unread).
import { expect, oneEvent } from '@open-wc/testing';
import { LiveChatClient } from '../../src/client/index.js';
import { MemoryChatStore } from '../../src/outbox/index.js';
import type { LiveChatEventDetails, LiveChatEventName } from '../../src/ui/events.js';
import { defineLiveChat } from '../../src/ui/define.js';
import type { LiveChatElement } from '../../src/ui/live-chat-element.js';
import { makeToken, restartChatServer, sleep, startChatServer, stopChatServer, storedContents, trackedWebSocket, uniqueId, waitFor, waitForState, type ServerInfo } from './harness.js';

defineLiveChat();

const texts = (el: LiveChatElement) => [...el.shadowRoot!.querySelectorAll<HTMLElement>('.bubble')].map((b) => b.textContent);

/** Writes `text` in the element's composer as a user would (so its typing goes out); returns the composer. */
function typeText(el: HTMLElement, text: string): HTMLTextAreaElement {
  const input = el.shadowRoot!.querySelector('textarea')!;
  input.value = text;
  input.dispatchEvent(new Event('input'));
  return input;
}

/** Every detail of `name` the element fires from now on. */
function heard<K extends LiveChatEventName>(el: HTMLElement, name: K): LiveChatEventDetails[K][] {
  const details: LiveChatEventDetails[K][] = [];
  el.addEventListener(name, (event) => details.push((event as CustomEvent<LiveChatEventDetails[K]>).detail));
  return details;
}

describe('<live-chat> on a page', () => {
  let server: ServerInfo;
  const cleanup: (() => void)[] = [];

  before(async () => {
    server = await startChatServer({ RATE_LIMIT_PER_MINUTE: '1000' });
  });
  after(async () => {
    await stopChatServer(server);
  });
  afterEach(() => {
    for (const undo of cleanup.splice(0)) undo();
  });

  /** A `<live-chat>` made by script, the way a page's own code would, not yet on the page. */
  function element(attributes: Record<string, string>): LiveChatElement {
    const el = document.createElement('live-chat');
    for (const [name, value] of Object.entries({ 'server-url': server.wsUrl, mode: 'inline', lang: 'en', ...attributes })) el.setAttribute(name, value);
    cleanup.push(() => el.remove());
    return el;
  }

  async function agentFor(conversationId: string) {
    const agent = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId });
    cleanup.push(() => agent.close());
    await waitForState(agent, 'connected');
    return agent;
  }

  /** Each visitor writes these messages into their own conversation; resolves once all are stored. */
  async function seed(byConversation: Record<string, string[]>) {
    for (const [conversation, texts] of Object.entries(byConversation)) {
      const visitor = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: conversation }) });
      cleanup.push(() => visitor.close());
      for (const text of texts) await visitor.send(text);
      await waitFor(() => storedContents(visitor).length === texts.length, 'stored');
    }
  }

  it('send() right after the element is added resolves, and the message is delivered', async () => {
    const visitorId = uniqueId('v');
    const agent = await agentFor(visitorId);
    const el = element({ token: await makeToken({ sub: visitorId }) });
    document.body.append(el);
    const message = await el.send('straight away');
    expect(message.content).to.equal('straight away');
    await waitFor(() => storedContents(agent).includes('straight away'), 'delivery');
  });

  it('removed from the page it disconnects (status idle); put back, it connects again and sends', async () => {
    const visitorId = uniqueId('v');
    const agent = await agentFor(visitorId);
    const el = element({ token: await makeToken({ sub: visitorId }) });
    const statuses = heard(el, 'live-chat-status');
    document.body.append(el);
    await waitFor(() => el.status === 'connected', 'connected');
    el.remove();
    await Promise.resolve(); // after the script that removed it (it may have put it back: a move)
    expect(statuses.at(-1)).to.deep.equal({ status: 'idle' });
    expect(el.status).to.equal('idle');
    document.body.append(el);
    await waitFor(() => el.status === 'connected', 'connected again');
    expect(statuses.filter((s) => s.status === 'connected')).to.have.length(2);
    await el.send('after coming back');
    await waitFor(() => storedContents(agent).includes('after coming back'), 'delivery');
  });

  it('moved to another parent in one go (as a framework may), it keeps its connection: no status change, no new socket', async () => {
    const visitorId = uniqueId('v');
    const agent = await agentFor(visitorId);
    const { WebSocket: Tracked, sockets } = trackedWebSocket();
    const original = window.WebSocket;
    window.WebSocket = Tracked;
    cleanup.push(() => (window.WebSocket = original));
    const el = element({ token: await makeToken({ sub: visitorId }) });
    document.body.append(el);
    await waitFor(() => el.status === 'connected', 'connected');
    const opened = sockets.length;
    const statuses = heard(el, 'live-chat-status');
    const box = document.createElement('div');
    document.body.append(box);
    cleanup.push(() => box.remove());
    box.append(el);
    document.body.append(el); // and back
    await el.send('after the moves');
    await waitFor(() => storedContents(agent).includes('after the moves'), 'delivery after the moves');
    await sleep(200);
    expect(statuses).to.deep.equal([]);
    expect(el.status).to.equal('connected');
    expect(sockets.length, 'sockets opened since').to.equal(opened);
  });

  it('moved in one go while the user types, the other side still sees them typing; a token for another user given during the move starts over as that user', async () => {
    const [alice, bob] = [uniqueId('v'), uniqueId('v')];
    const agent = await agentFor(alice);
    const typing: boolean[] = [];
    agent.on('typing', (t) => typing.push(t.is_typing));
    const el = element({ token: await makeToken({ sub: alice }) });
    document.body.append(el);
    await waitFor(() => el.status === 'connected', 'connected');
    typeText(el, 'hel');
    await waitFor(() => typing.at(-1) === true, 'typing on');
    const box = document.createElement('div');
    document.body.append(box);
    cleanup.push(() => box.remove());
    box.append(el);
    await sleep(300);
    expect(typing, 'no "stopped typing" for a move').to.deep.equal([true]);

    const bobsAgent = await agentFor(bob);
    const bobsToken = await makeToken({ sub: bob });
    el.remove();
    el.setAttribute('token', bobsToken);
    document.body.append(el);
    await waitFor(() => el.status === 'connected', 'connected as bob');
    await el.send('written by bob');
    await waitFor(() => storedContents(bobsAgent).includes('written by bob'), "in bob's conversation");
    expect(storedContents(agent)).to.not.include('written by bob');
  });

  it('a tokenProvider set by a later script is asked once the token attribute\'s token is refused', async () => {
    const visitorId = uniqueId('v');
    const el = element({ token: await makeToken({ sub: visitorId, expSeconds: 2 }) });
    const errors = heard(el, 'live-chat-error');
    document.body.append(el);
    await waitFor(() => el.status === 'connected', 'connected with the attribute token');
    let asked = 0;
    el.tokenProvider = () => {
      asked++;
      return makeToken({ sub: visitorId });
    };
    // The server closes 4001 when the first token expires; the provider's token takes over.
    await waitFor(() => asked > 0, 'the provider to be asked', 8000);
    await waitFor(() => el.status === 'connected', 'connected with the provider token');
    expect(errors).to.deep.equal([]);
  });

  it('a refused token is reported (live-chat-error 4001); a tokenProvider set afterwards gets it going again', async () => {
    const visitorId = uniqueId('v');
    const el = element({ token: await makeToken({ sub: visitorId, expSeconds: 1 }) });
    const errors = heard(el, 'live-chat-error');
    document.body.append(el);
    await waitFor(() => el.status === 'auth-failed', 'auth-failed', 8000);
    expect(errors.map((e) => e.code)).to.deep.equal([4001]);
    el.tokenProvider = () => makeToken({ sub: visitorId });
    await waitFor(() => el.status === 'connected', 'connected with the provider token');
  });

  it('put on the page without a token or without server-url: live-chat-error says what is missing; set later, it connects', async () => {
    const noToken = element({});
    const tokenErrors = heard(noToken, 'live-chat-error');
    document.body.append(noToken);
    await waitFor(() => tokenErrors.length > 0, 'an error for the missing token');
    expect(tokenErrors).to.deep.equal([{ code: 0, message: 'live-chat needs a token attribute or a tokenProvider' }]);
    noToken.tokenProvider = () => makeToken({ sub: uniqueId('v') });
    await waitFor(() => noToken.status === 'connected', 'connected once the provider is set');

    const noUrl = element({ token: await makeToken({ sub: uniqueId('v') }) });
    noUrl.removeAttribute('server-url');
    const urlErrors = heard(noUrl, 'live-chat-error');
    document.body.append(noUrl);
    await waitFor(() => urlErrors.length > 0, 'an error for the missing server-url');
    expect(urlErrors).to.deep.equal([{ code: 0, message: 'live-chat needs a server-url attribute' }]);
    noUrl.setAttribute('server-url', server.wsUrl);
    await waitFor(() => noUrl.status === 'connected', 'connected once server-url is set');

    // Set by script in the same task as it was added: in time, nothing to report.
    const late = element({});
    const lateErrors = heard(late, 'live-chat-error');
    document.body.append(late);
    late.tokenProvider = () => makeToken({ sub: uniqueId('v') });
    await waitFor(() => late.status === 'connected', 'connected');
    expect(lateErrors).to.deep.equal([]);
    expect(tokenErrors.length + urlErrors.length, 'each said once').to.equal(2);
  });

  it('conversation-id and server-url changed at runtime: the element shows the new conversation, not the old one', async () => {
    const [first, second] = [uniqueId('v'), uniqueId('v')];
    await seed({ [first]: ['in the first'], [second]: ['in the second'] });
    const el = element({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), 'conversation-id': first });
    document.body.append(el);
    await waitFor(() => texts(el).join() === 'in the first', 'the first conversation');
    el.setAttribute('conversation-id', second);
    await waitFor(() => texts(el).join() === 'in the second', 'the second conversation');
    await el.send('agent in the second');
    await waitFor(() => texts(el).join() === 'in the second,agent in the second', 'only the second conversation');
    // Another server URL for the same place (a trailing slash on the path is another URL string).
    el.setAttribute('server-url', `${server.wsUrl}?again`);
    await waitFor(() => el.status === 'connected' && texts(el).length === 2, 'connected to the new URL');
  });

  it('a token attribute for another user, set at runtime, switches to that user\'s conversation', async () => {
    const [first, second] = [uniqueId('v'), uniqueId('v')];
    const agent = await agentFor(second);
    await agent.send('for the second user');
    const el = element({ token: await makeToken({ sub: first }) });
    document.body.append(el);
    await waitFor(() => el.status === 'connected', 'connected as the first user');
    expect(texts(el)).to.deep.equal([]);
    el.setAttribute('token', await makeToken({ sub: second }));
    expect(el.hasAttribute('token')).to.equal(false);
    await waitFor(() => texts(el).join() === 'for the second user', 'the second user\'s conversation');
  });

  it('after a reload, cached messages are not announced again as new, and what was read is not unread', async () => {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const agent = await agentFor(visitorId);
    await agent.send('one');
    await agent.send('two');
    const before = element({ token, mode: 'launcher', open: '' });
    document.body.append(before);
    await waitFor(() => texts(before).length === 2, 'both shown');
    await waitFor(() => agent.messages.some((m) => m.content === 'two' && m.status === 'read'), 'read by the visitor');
    before.remove();

    const after = element({ token, mode: 'launcher' });
    const messages = heard(after, 'live-chat-message');
    const unread = heard(after, 'live-chat-unread');
    document.body.append(after);
    await waitFor(() => after.status === 'connected', 'connected after the reload');
    await sleep(300);
    expect(messages).to.deep.equal([]);
    expect(unread.filter((u) => u.count > 0)).to.deep.equal([]);
    await agent.send('three');
    await waitFor(() => unread.at(-1)?.count === 1, 'one unread');
    expect(messages.map((m) => m.message.content)).to.deep.equal(['three']);
  });

  /** A visitor wrote one message, and an agent's inline view showed it (read, the receipt stored) and left the page. */
  async function agentReadOne() {
    const visitorId = uniqueId('v');
    const agentToken = await makeToken({ sub: uniqueId('agent'), role: 'agent' });
    const visitor = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: visitorId }) });
    cleanup.push(() => visitor.close());
    await visitor.send('read before');
    const before = element({ token: agentToken, 'conversation-id': visitorId });
    document.body.append(before);
    await waitFor(() => texts(before).length === 1 && before.status === 'connected', 'the agent read the first');
    await waitFor(() => visitor.messages.some((m) => m.status === 'read'), 'the read receipt stored');
    before.remove();
    return { visitorId, agentToken, visitor };
  }

  /** The agent's inline view put on the page again; resolves once it is connected and shows the conversation's three messages. */
  async function agentViewOfThree(visitorId: string, agentToken: string): Promise<LiveChatElement> {
    const view = element({ token: agentToken, 'conversation-id': visitorId });
    document.body.append(view);
    await waitFor(() => texts(view).length === 3 && view.status === 'connected', 'all three shown');
    await view.updateComplete;
    return view;
  }

  /** The list as shown: each message's text, '--' for the "new messages" divider. */
  const dividerAndTexts = (el: LiveChatElement) =>
    [...el.shadowRoot!.querySelectorAll('.divider, .bubble')].map((n) => (n.classList.contains('divider') ? '--' : n.textContent));

  it('an inline view coming up with messages that arrived while the reader was away shows the "new messages" divider above the first of them', async () => {
    const { visitorId, agentToken, visitor } = await agentReadOne();
    await visitor.send('while away 1');
    await visitor.send('while away 2');
    await waitFor(() => storedContents(visitor).length === 3, 'stored');

    const after = await agentViewOfThree(visitorId, agentToken);
    const list = dividerAndTexts(after);
    expect(list).to.deep.equal(['read before', '--', 'while away 1', 'while away 2']);
    // A message arriving while the reader is at the bottom adds no divider of its own.
    await visitor.send('live');
    await waitFor(() => texts(after).length === 4, 'the live message');
    expect(after.shadowRoot!.querySelectorAll('.divider').length).to.equal(1);
  });

  it('an inline view whose cache holds messages not yet read (heard by another tab) shows the divider above the first of them', async () => {
    const { visitorId, agentToken, visitor } = await agentReadOne();
    // Another tab of the agent's (a client, no view) hears two more and keeps them in the shared cache, unread.
    const otherTab = new LiveChatClient({ url: server.wsUrl, token: agentToken, conversationId: visitorId });
    await waitForState(otherTab, 'connected');
    await visitor.send('heard elsewhere 1');
    await visitor.send('heard elsewhere 2');
    await waitFor(() => storedContents(otherTab).length === 3, 'cached by the other tab');
    await sleep(100); // its cache writes land
    otherTab.close();

    const after = await agentViewOfThree(visitorId, agentToken);
    const list = dividerAndTexts(after);
    expect(list).to.deep.equal(['read before', '--', 'heard elsewhere 1', 'heard elsewhere 2']);
    // Replying answers what was new: the divider goes.
    await after.send('a reply');
    await waitFor(() => texts(after).length === 4, 'the reply');
    expect(after.shadowRoot!.querySelector('.divider')).to.equal(null);
  });

  it('opened from the start after a reload, messages cached unread are marked read (the receipt goes out) and not unread again on the next load', async () => {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const agent = await agentFor(visitorId);
    const closed = element({ token, mode: 'launcher' });
    const unread = heard(closed, 'live-chat-unread');
    document.body.append(closed);
    await waitFor(() => closed.status === 'connected', 'connected');
    await agent.send('while closed 1');
    await agent.send('while closed 2');
    await waitFor(() => unread.at(-1)?.count === 2, 'two unread, in the cache');
    closed.remove();

    const opened = element({ token, mode: 'launcher', open: '' });
    document.body.append(opened);
    await waitFor(() => opened.status === 'connected', 'connected, open');
    await waitFor(() => agent.messages.every((m) => m.status === 'read'), 'the read receipt at the agent', 5000);
    opened.remove();

    const again = element({ token, mode: 'launcher' });
    const unreadAgain = heard(again, 'live-chat-unread');
    document.body.append(again);
    await waitFor(() => again.status === 'connected', 'connected again');
    await sleep(300);
    expect(unreadAgain.filter((u) => u.count > 0)).to.deep.equal([]);
  });

  it('open from the start: live-chat-open fires; a message arriving at the bottom of the open panel is never counted unread', async () => {
    const visitorId = uniqueId('v');
    const agent = await agentFor(visitorId);
    const el = element({ token: await makeToken({ sub: visitorId }), mode: 'launcher', open: '' });
    const unread = heard(el, 'live-chat-unread');
    const opened = oneEvent(el, 'live-chat-open');
    document.body.append(el);
    await opened;
    await waitFor(() => el.status === 'connected', 'connected');
    await agent.send('while you look');
    await waitFor(() => texts(el).includes('while you look'), 'shown');
    await waitFor(() => agent.messages.some((m) => m.content === 'while you look' && m.status === 'read'), 'read at once');
    expect(unread.filter((u) => u.count > 0)).to.deep.equal([]);
  });

  it('a token it cannot read (not a JWT): auth-failed; a tokenProvider set afterwards gets it going', async () => {
    const visitorId = uniqueId('v');
    const el = element({ token: 'not-a-jwt' });
    const errors = heard(el, 'live-chat-error');
    document.body.append(el);
    await waitFor(() => el.status === 'auth-failed', 'auth-failed');
    expect(errors.map((e) => e.code)).to.deep.equal([4001]);
    el.tokenProvider = () => makeToken({ sub: visitorId });
    await waitFor(() => el.status === 'connected', 'connected with the provider token');
    await el.send('now it works');
  });

  it('switched to another conversation before the first one loaded: only the second is shown, and its cached messages are not news', async () => {
    const agentToken = await makeToken({ sub: uniqueId('agent'), role: 'agent' });
    const [first, second] = [uniqueId('v'), uniqueId('v')];
    await seed({ [first]: ['first conversation'], [second]: ['second conversation'] });
    // The agent has seen the second conversation before, so it is in this device's cache.
    const earlier = element({ token: agentToken, 'conversation-id': second });
    document.body.append(earlier);
    await waitFor(() => texts(earlier).join() === 'second conversation', 'the second conversation cached');
    earlier.remove();

    const el = element({ 'conversation-id': first });
    let calls = 0;
    // The first conversation's client waits for its token, so it finishes loading long after the switch.
    el.tokenProvider = async () => {
      if (calls++ === 0) await sleep(1500);
      return agentToken;
    };
    const messages = heard(el, 'live-chat-message');
    document.body.append(el);
    el.setAttribute('conversation-id', second);
    await waitFor(() => el.status === 'connected', 'connected');
    await sleep(2000);
    expect(texts(el)).to.deep.equal(['second conversation']);
    expect(messages).to.deep.equal([]);
  });

  it('what was read on another device is not counted unread here after a reload', async () => {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const agent = await agentFor(visitorId);
    await agent.send('one');
    const el = element({ token, mode: 'launcher', open: '' });
    document.body.append(el);
    await waitFor(() => agent.messages.some((m) => m.content === 'one' && m.status === 'read'), 'read here');
    el.remove();
    await agent.send('two');
    await agent.send('three');
    // The visitor's phone reads them.
    const phone = new LiveChatClient({ url: server.wsUrl, token, shareConnection: false, store: new MemoryChatStore() });
    cleanup.push(() => phone.close());
    await waitFor(() => storedContents(phone).length === 3, 'the phone has them');
    phone.markRead();
    await waitFor(() => agent.messages.some((m) => m.content === 'three' && m.status === 'read'), 'read on the phone');

    const again = element({ token, mode: 'launcher' });
    const unread = heard(again, 'live-chat-unread');
    document.body.append(again);
    await waitFor(() => again.status === 'connected', 'connected');
    await sleep(300);
    expect(unread.at(-1)?.count ?? 0).to.equal(0);
  });

  it('read in another tab or on another device: the unread badge here goes to 0 at once, without a reload', async () => {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const agent = await agentFor(visitorId);
    // Two elements on one page share the conversation's socket as two tabs do.
    const [here, otherTab] = [element({ token, mode: 'launcher' }), element({ token, mode: 'launcher' })];
    const unread = heard(here, 'live-chat-unread');
    document.body.append(here, otherTab);
    await waitFor(() => here.status === 'connected' && otherTab.status === 'connected', 'both connected');
    await agent.send('one');
    await agent.send('two');
    await waitFor(() => unread.at(-1)?.count === 2, 'two unread here');
    otherTab.open();
    await waitFor(() => unread.at(-1)?.count === 0, 'read in the other tab');
    otherTab.close(); // or it would read the next one itself, as it arrives

    await agent.send('three');
    await waitFor(() => unread.at(-1)?.count === 1, 'one unread here');
    const phone = new LiveChatClient({ url: server.wsUrl, token, shareConnection: false, store: new MemoryChatStore() });
    cleanup.push(() => phone.close());
    await waitFor(() => storedContents(phone).length === 3, 'the phone has them');
    phone.markRead();
    await waitFor(() => unread.at(-1)?.count === 0, 'read on the phone');
  });

  it('conversation-id changed while off the page: put back, it counts the new conversation\'s unread from zero', async () => {
    const agentToken = await makeToken({ sub: uniqueId('agent'), role: 'agent' });
    const [seen, unseen] = [uniqueId('v'), uniqueId('v')];
    await seed({ [seen]: ['a', 'b', 'c', 'd'], [unseen]: ['e', 'f'] });
    const el = element({ token: agentToken, 'conversation-id': seen, mode: 'launcher', open: '' });
    document.body.append(el);
    await waitFor(() => texts(el).length === 4, 'the first conversation, read');
    el.close();
    el.remove();
    el.setAttribute('conversation-id', unseen);
    const unread = heard(el, 'live-chat-unread');
    document.body.append(el);
    await waitFor(() => el.status === 'connected', 'connected');
    await waitFor(() => unread.at(-1)?.count === 2, 'two unread in the other conversation');
  });

  it('one agent with two conversations open at once (two elements, one profile): neither replaces the other', async () => {
    const agentToken = await makeToken({ sub: uniqueId('agent'), role: 'agent' });
    const [first, second] = [uniqueId('v'), uniqueId('v')];
    const views = [first, second].map((conversation) => element({ token: agentToken, 'conversation-id': conversation }));
    const errors = views.map((view) => heard(view, 'live-chat-error'));
    for (const view of views) {
      document.body.append(view);
      await waitFor(() => view.status === 'connected', 'connected');
    }
    await sleep(1000);
    expect(views.map((view) => view.status)).to.deep.equal(['connected', 'connected']);
    expect(errors.flat()).to.deep.equal([]);
    await seed({ [first]: ['to the first view'] });
    await waitFor(() => texts(views[0]!).includes('to the first view'), 'delivered live to the first view');
  });

  it('a tokenProvider replaced while the old one has not answered: the new one is asked and the element connects', async () => {
    const visitorId = uniqueId('v');
    const el = element({});
    el.tokenProvider = () => new Promise<string>(() => undefined); // never answers
    document.body.append(el);
    await sleep(200);
    el.tokenProvider = () => makeToken({ sub: visitorId });
    await waitFor(() => el.status === 'connected', 'connected with the second provider');
  });

  it('send() and then a switch of conversation at once: the message still fires live-chat-message, once', async () => {
    const agentToken = await makeToken({ sub: uniqueId('agent'), role: 'agent' });
    const [first, second] = [uniqueId('v'), uniqueId('v')];
    const el = element({ token: agentToken, 'conversation-id': first });
    const messages = heard(el, 'live-chat-message');
    document.body.append(el);
    await waitFor(() => el.status === 'connected', 'connected');
    const sending = el.send('written just before the switch');
    await Promise.resolve();
    el.setAttribute('conversation-id', second);
    const message = await sending;
    expect(messages.map((m) => m.message.message_id)).to.deep.equal([message.message_id]);
  });

  it('a reply written just before switching conversation, or before the element leaves the page, is still delivered', async () => {
    const agentToken = await makeToken({ sub: uniqueId('agent'), role: 'agent' });
    const [first, second] = [uniqueId('v'), uniqueId('v')];
    const el = element({ token: agentToken, 'conversation-id': first });
    document.body.append(el);
    await waitFor(() => el.status === 'connected', 'connected');
    const sending = el.send('the answer to the first visitor');
    el.setAttribute('conversation-id', second); // in the same task: the message is still being written
    await sending;
    await waitFor(() => el.status === 'connected', 'connected to the second');
    await el.send('the answer to the second visitor');
    el.remove();
    for (const [conversation, text] of [[first, 'the answer to the first visitor'], [second, 'the answer to the second visitor']] as const) {
      const visitor = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: conversation }), shareConnection: false, store: new MemoryChatStore() });
      cleanup.push(() => visitor.close());
      await waitFor(() => storedContents(visitor).includes(text), `delivered to ${conversation}`);
    }
  });

  it('a message written before the token has come stays in the composer (no outbox to keep it in yet) and goes out, once, when it comes', async () => {
    const visitorId = uniqueId('v');
    let give: (token: string) => void = () => undefined;
    const el = element({});
    el.tokenProvider = () => new Promise<string>((resolve) => (give = resolve));
    document.body.append(el);
    await el.updateComplete;
    const input = el.shadowRoot!.querySelector('textarea')!;
    input.value = 'written while the token was on its way';
    for (let i = 0; i < 2; i++) input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, composed: true }));
    await sleep(100);
    expect(input.value).to.equal('written while the token was on its way');
    give(await makeToken({ sub: visitorId }));
    await waitFor(() => texts(el).includes('written while the token was on its way'), 'shown once the token came');
    expect(input.value).to.equal('');
    const agent = await agentFor(visitorId);
    await waitFor(() => agent.messages.some((m) => m.content === 'written while the token was on its way'), 'delivered');
    await sleep(300);
    expect(agent.messages.filter((m) => m.content === 'written while the token was on its way').length).to.equal(1);
  });

  it('a message held for the token and then taken back is not sent later: a draft written after it stays a draft', async () => {
    const visitorId = uniqueId('v');
    let give: (token: string) => void = () => undefined;
    let token: string | undefined;
    const el = element({});
    el.tokenProvider = () => (token ? Promise.resolve(token) : new Promise<string>((resolve) => (give = resolve)));
    const sent = heard(el, 'live-chat-message');
    document.body.append(el);
    await el.updateComplete;
    const input = el.shadowRoot!.querySelector('textarea')!;
    input.value = 'hello';
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, composed: true }));
    input.value = ''; // thought better of it
    input.dispatchEvent(new Event('input'));
    give((token = await makeToken({ sub: visitorId })));
    await waitFor(() => el.status === 'connected', 'connected');
    el.shadowRoot!.querySelector('textarea')!.value = 'a draft, not sent';
    el.remove(); // moved in the page, as a framework may
    document.body.append(el);
    await waitFor(() => el.status === 'connected', 'connected again');
    await sleep(300);
    expect(sent).to.deep.equal([]);
    expect(el.shadowRoot!.querySelector('textarea')!.value).to.equal('a draft, not sent');
  });

  it('switching conversation while typing tells the first conversation that typing stopped', async () => {
    const [first, second] = [uniqueId('v'), uniqueId('v')];
    const visitor = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: first }) });
    cleanup.push(() => visitor.close());
    await waitForState(visitor, 'connected');
    const typing: boolean[] = [];
    visitor.on('typing', (t) => typing.push(t.is_typing));
    const el = element({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), 'conversation-id': first });
    document.body.append(el);
    await waitFor(() => el.status === 'connected', 'connected');
    const input = typeText(el, 'half a thought');
    await waitFor(() => typing.at(-1) === true, 'typing on');
    el.setAttribute('conversation-id', second);
    await waitFor(() => typing.at(-1) === false, 'typing off');
    expect(input.value).to.equal('');
  });

  it('a server whose store was reset while the element was away: what was read in the old store does not count in the new one', async () => {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const before = await agentFor(visitorId);
    for (let i = 1; i <= 3; i++) await before.send(`old ${i}`);
    const el = element({ token, mode: 'launcher', open: '' });
    document.body.append(el);
    await waitFor(() => before.messages.filter((m) => m.status === 'read').length === 3, 'the old messages, read');
    el.close();
    el.remove();
    before.close();
    server = await restartChatServer(server, { fresh: true });
    const agent = await agentFor(visitorId);
    for (let i = 1; i <= 5; i++) await agent.send(`new ${i}`);
    const unread = heard(el, 'live-chat-unread');
    document.body.append(el);
    await waitFor(() => el.status === 'connected', 'connected');
    await waitFor(() => unread.at(-1)?.count === 5, 'all five of the new store unread');
  });

  it('sending faster than the server takes (4008): a notice says why messages wait, until they go out; nothing lost or doubled', async () => {
    const limited = await startChatServer({ RATE_LIMIT_PER_MINUTE: '2', RATE_LIMIT_WINDOW_MS: '1500' });
    try {
      const visitorId = uniqueId('v');
      const el = element({ token: await makeToken({ sub: visitorId }), 'server-url': limited.wsUrl });
      const errors = heard(el, 'live-chat-error');
      document.body.append(el);
      await waitFor(() => el.status === 'connected', 'connected');
      for (let i = 1; i <= 4; i++) await el.send(`quick ${i}`);
      await waitFor(() => errors.some((e) => e.code === 4008), 'refused for now');
      await el.updateComplete;
      expect(el.shadowRoot!.querySelector('.notice')?.textContent).to.contain('You are sending quickly');
      const visitor = new LiveChatClient({ url: limited.wsUrl, token: await makeToken({ sub: visitorId }), shareConnection: false, store: new MemoryChatStore() });
      cleanup.push(() => visitor.close());
      await waitFor(() => storedContents(visitor).length === 4, 'all four stored', 10_000);
      expect(storedContents(visitor)).to.deep.equal([1, 2, 3, 4].map((i) => `quick ${i}`));
      await waitFor(() => !el.shadowRoot!.querySelector('.notice'), 'the notice gone once they went out', 5000);
    } finally {
      await stopChatServer(limited);
    }
  });
});
