// The <live-chat> element against the real server: attributes, methods, events, rendering of
// hostile text, keyboard use and accessibility (axe) in its states.
import { expect, fixture, html, oneEvent } from '@open-wc/testing';
import { sendKeys, setViewport } from '@web/test-runner-commands';
import { LiveChatClient, NoToken } from '../../src/client/index.js';
import { defineLiveChat } from '../../src/ui/define.js';
import type { LiveChatElement } from '../../src/ui/live-chat-element.js';
import { connectSameDevice, makeToken, signalServer, sleep, startChatServer, stopChatServer, storedContents, uniqueId, waitFor, waitForState, type ServerInfo } from './harness.js';

defineLiveChat();

const shadow = (el: LiveChatElement) => el.shadowRoot!;
const $ = <T extends Element = HTMLElement>(el: LiveChatElement, selector: string) => shadow(el).querySelector<T>(selector);
const bubbles = (el: LiveChatElement) => [...shadow(el).querySelectorAll<HTMLElement>('.bubble')];

/** WCAG contrast of two computed `rgb(…)` colours. */
function contrast(a: string, b: string): number {
  const luminance = (colour: string) => {
    const [r, g, b] = colour.match(/[\d.]+/g)!.slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (high! + 0.05) / (low! + 0.05);
}

describe('<live-chat>', () => {
  let server: ServerInfo;
  const agents: LiveChatClient[] = [];

  before(async () => {
    server = await startChatServer({ RATE_LIMIT_PER_MINUTE: '1000' });
  });
  after(async () => {
    await stopChatServer(server);
  });
  afterEach(() => {
    for (const agent of agents.splice(0)) agent.close();
  });

  async function visitorElement(attributes: { mode?: string; open?: boolean; lang?: string; title?: string; placeholder?: string } = {}) {
    const visitorId = uniqueId('v');
    const token = await makeToken({ sub: visitorId });
    const el = await fixture<LiveChatElement>(html`
      <live-chat
        server-url=${server.wsUrl}
        token=${token}
        mode=${attributes.mode ?? 'launcher'}
        ?open=${attributes.open ?? false}
        lang=${attributes.lang ?? 'en'}
        title=${attributes.title ?? 'Acme support'}
        placeholder=${attributes.placeholder ?? 'Ask us anything'}
      ></live-chat>
    `);
    await waitFor(() => el.status === 'connected', 'the element to connect');
    return { el, visitorId, token };
  }

  async function agentFor(visitorId: string) {
    const agent = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitorId });
    agents.push(agent);
    await waitForState(agent, 'connected');
    return agent;
  }

  it('reads the token attribute once and removes it from the DOM; takes title the same way', async () => {
    const { el } = await visitorElement({ open: true });
    expect(el.hasAttribute('token')).to.equal(false);
    expect(el.hasAttribute('title')).to.equal(false);
    expect($(el, 'h2')!.textContent).to.equal('Acme support');
    expect($<HTMLTextAreaElement>(el, 'textarea')!.placeholder).to.equal('Ask us anything');
    await waitFor(() => $(el, '.connection')!.textContent === 'Online', 'connected');
    el.setAttribute('title', ''); // an empty title: the default heading, never a nameless dialog
    await el.updateComplete;
    expect($(el, 'h2')!.textContent).to.equal('Chat with us');
    expect($(el, '.panel')!.getAttribute('aria-label')).to.equal('Chat with us');
  });

  it('prefers tokenProvider over the token attribute', async () => {
    const visitorId = uniqueId('v');
    let asked = 0;
    const el = document.createElement('live-chat');
    el.tokenProvider = async () => {
      asked++;
      return makeToken({ sub: visitorId });
    };
    el.setAttribute('token', 'not-a-real-token');
    el.setAttribute('server-url', server.wsUrl);
    el.setAttribute('mode', 'inline');
    const status = oneEvent(el, 'live-chat-status');
    document.body.append(el);
    try {
      await status;
      await waitFor(() => $(el, '.connection')?.textContent === 'Online', 'connected with the provider token');
      expect(asked).to.be.greaterThan(0);
    } finally {
      el.remove();
    }
  });

  it('launcher mode: a bubble that opens and closes a dialog, with open(), close(), toggle() and the open attribute, firing open and close events', async () => {
    const { el } = await visitorElement();
    expect($(el, '.launcher')).to.exist;
    expect($(el, '[role="dialog"]')).to.equal(null);
    const opened = oneEvent(el, 'live-chat-open');
    el.open();
    await opened;
    await el.updateComplete;
    expect(el.hasAttribute('open')).to.equal(true);
    expect($(el, '[role="dialog"]')!.getAttribute('aria-label')).to.equal('Acme support');
    expect($(el, '.launcher')!.getAttribute('aria-expanded')).to.equal('true');
    const closed = oneEvent(el, 'live-chat-close');
    el.toggle();
    await closed;
    await el.updateComplete;
    expect($(el, '[role="dialog"]')).to.equal(null);
    el.setAttribute('open', '');
    await el.updateComplete;
    expect($(el, '[role="dialog"]')).to.exist;
    el.close();
    await el.updateComplete;
    expect(el.hasAttribute('open')).to.equal(false);
  });

  it('opening and closing again in one go fires nothing, since the panel never changed; each change on its own fires its event once', async () => {
    const { el } = await visitorElement();
    const heard: string[] = [];
    el.addEventListener('live-chat-open', () => heard.push('open'));
    el.addEventListener('live-chat-close', () => heard.push('close'));
    el.open();
    el.close();
    await el.updateComplete;
    el.toggle();
    el.toggle();
    await el.updateComplete;
    expect(heard, 'closed, opened and closed again in one task').to.deep.equal([]);
    expect($(el, '[role="dialog"]')).to.equal(null);
    el.open();
    await el.updateComplete;
    el.close();
    el.open();
    await el.updateComplete;
    expect(heard, 'open, then closed and opened again in one task').to.deep.equal(['open']);
    expect($(el, '[role="dialog"]')).to.exist;
    el.close();
    await el.updateComplete;
    expect(heard).to.deep.equal(['open', 'close']);
  });

  it('inline mode: the panel fills its container without a launcher, as a region', async () => {
    const { el } = await visitorElement({ mode: 'inline' });
    expect($(el, '.launcher')).to.equal(null);
    expect($(el, '[role="region"].panel')).to.exist;
  });

  it('inline mode fills a container with a height; on a page that gives it none (a bare LIFF page) it stops at the screen\'s and its list scrolls', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    const agent = await agentFor(visitorId);
    for (let i = 1; i <= 40; i++) void agent.send(`line ${i}`);
    await waitFor(() => bubbles(el).length === 40, 'forty messages');
    await el.updateComplete;
    const scroller = $(el, '.messages')!;
    expect(el.getBoundingClientRect().height).to.be.at.most(window.innerHeight);
    expect(scroller.scrollHeight).to.be.above(scroller.clientHeight);
    expect($(el, 'textarea')!.getBoundingClientRect().bottom).to.be.at.most(window.innerHeight); // the composer on screen
    const box = document.createElement('div');
    box.style.height = '400px';
    el.parentElement!.append(box);
    box.append(el);
    await el.updateComplete;
    expect(Math.round($(el, '.panel')!.getBoundingClientRect().height)).to.equal(400);
    // A page that sizes the element itself, as pages do with custom elements.
    el.style.display = 'block';
    el.style.height = '250px';
    await el.updateComplete;
    expect(Math.round($(el, '.panel')!.getBoundingClientRect().height)).to.equal(250);
    expect($(el, 'textarea')!.getBoundingClientRect().bottom).to.be.at.most(el.getBoundingClientRect().bottom); // the composer inside it
    await waitFor(() => bubbles(el).length === 40, 'the messages again');
    const list = $(el, '.messages')!;
    expect(list.scrollHeight).to.be.above(list.clientHeight);
  });

  it('send() resolves once the message is in the outbox; the message shows once, then as sent; live-chat-message fires', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    const agent = await agentFor(visitorId);
    const event = oneEvent(el, 'live-chat-message');
    const message = await el.send('Hello from the element');
    expect(message.status).to.equal('queued');
    expect((await event).detail.message.content).to.equal('Hello from the element');
    await waitFor(() => storedContents(agent).includes('Hello from the element'), 'delivery');
    await waitFor(() => $(el, '.group.own .meta span')?.textContent === 'Sent', 'the sent status');
    expect(bubbles(el).map((b) => b.textContent)).to.deep.equal(['Hello from the element']);
  });

  it('renders message text as text: no HTML, no script, no event handlers, no javascript: links; only http(s) links, opening safely', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    const agent = await agentFor(visitorId);
    const attacks = [
      '<script>window.__xss = 1</script>',
      '<img src=x onerror="window.__xss = 2">',
      '<a href="javascript:window.__xss=3">click</a> javascript:window.__xss=4',
      '<svg onload="window.__xss = 5"><circle r="1"/></svg>',
      '"><iframe src="javascript:alert(1)"></iframe>',
      'see https://example.com/a?b=1&c=<2> and http://example.org.',
    ];
    for (const text of attacks) await agent.send(text);
    await waitFor(() => bubbles(el).length === attacks.length, 'every message rendered');
    await new Promise((r) => setTimeout(r, 200));
    expect((window as unknown as { __xss?: number }).__xss).to.equal(undefined);
    expect(bubbles(el).map((b) => b.textContent)).to.deep.equal(attacks);
    for (const tag of ['script', 'img', 'svg', 'iframe']) expect(shadow(el).querySelector(`.bubble ${tag}`), tag).to.equal(null);
    const links = [...shadow(el).querySelectorAll<HTMLAnchorElement>('.bubble a')];
    expect(links.map((a) => a.getAttribute('href'))).to.deep.equal(['https://example.com/a?b=1&c=', 'http://example.org']);
    for (const a of links) {
      expect(a.target).to.equal('_blank');
      expect(a.rel).to.equal('noopener noreferrer');
    }
  });

  it('Enter sends, Shift+Enter makes a new line, the field is 16 px (no zoom on iOS)', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    const agent = await agentFor(visitorId);
    const input = $<HTMLTextAreaElement>(el, 'textarea')!;
    expect(getComputedStyle(input).fontSize).to.equal('16px');
    input.focus();
    await sendKeys({ type: 'first line' });
    await sendKeys({ down: 'Shift' });
    await sendKeys({ press: 'Enter' });
    await sendKeys({ up: 'Shift' });
    await sendKeys({ type: 'second line' });
    expect(input.value).to.equal('first line\nsecond line');
    await sendKeys({ press: 'Enter' });
    await waitFor(() => storedContents(agent).length === 1, 'the message at the agent');
    expect(storedContents(agent)).to.deep.equal(['first line\nsecond line']);
    expect(input.value).to.equal('');
  });

  it('a message too long to send stays in the composer, says why, and fires live-chat-error (code 0); editing clears the notice', async () => {
    const { el } = await visitorElement({ mode: 'inline' });
    const errors: number[] = [];
    el.addEventListener('live-chat-error', (e) => errors.push(e.detail.code));
    const input = $<HTMLTextAreaElement>(el, 'textarea')!;
    input.value = 'x'.repeat(4001);
    input.focus();
    await sendKeys({ press: 'Enter' });
    await el.updateComplete;
    expect($(el, '.composer-error')!.textContent).to.equal('Too long to send: 4001 of 4000 characters.');
    expect(input.getAttribute('aria-invalid')).to.equal('true');
    expect(input.value).to.have.length(4001);
    expect(errors).to.deep.equal([0]);
    const said = $(el, '.composer-error p');
    await sendKeys({ press: 'Enter' }); // again: said again (a new node in the alert), not only fired again
    await el.updateComplete;
    expect($(el, '.composer-error p')).to.not.equal(said);
    expect(errors).to.deep.equal([0, 0]);
    await sendKeys({ press: 'Backspace' });
    await el.updateComplete;
    expect($(el, '.composer-error')!.textContent).to.equal('');
    await sendKeys({ press: 'Enter' });
    await waitFor(() => el.shadowRoot!.querySelectorAll('.bubble').length === 1, 'the shortened message sent');
    expect(input.value).to.equal('');
  });

  it('a message whose white space would fill a frame (the 4000 characters do not count it) stays in the composer and says why', async () => {
    const { el } = await visitorElement({ mode: 'inline' });
    const errors: string[] = [];
    el.addEventListener('live-chat-error', (e) => errors.push(e.detail.message));
    const input = $<HTMLTextAreaElement>(el, 'textarea')!;
    const text = `hello${'\n'.repeat(40_000)}`;
    input.value = text;
    input.focus();
    await sendKeys({ press: 'Enter' });
    await el.updateComplete;
    expect($(el, '.composer-error')!.textContent).to.equal(`Too long to send: ${text.length} of 4000 characters.`);
    expect(input.value).to.equal(text);
    expect(errors).to.deep.equal(['not sent: the message is too large to send']);
    await sleep(200);
    expect(el.shadowRoot!.querySelectorAll('.bubble').length).to.equal(0);
    expect(el.status).to.equal('connected');
  });

  it('what was written and not sent is still in the composer after closing and opening the panel', async () => {
    const { el } = await visitorElement({ open: true });
    await el.updateComplete;
    $<HTMLTextAreaElement>(el, 'textarea')!.focus();
    await sendKeys({ type: 'half a thought' });
    await sendKeys({ press: 'Escape' });
    await waitFor(() => !el.opened, 'closed');
    el.open();
    await waitFor(() => shadow(el).activeElement?.tagName === 'TEXTAREA', 'focus in the composer');
    expect($<HTMLTextAreaElement>(el, 'textarea')!.value).to.equal('half a thought');
  });

  it('keyboard only: the launcher opens with Enter, focus goes to the composer, Escape closes and returns focus to the launcher', async () => {
    const { el } = await visitorElement();
    $<HTMLButtonElement>(el, '.launcher')!.focus();
    await sendKeys({ press: 'Enter' });
    await waitFor(() => shadow(el).activeElement?.tagName === 'TEXTAREA', 'focus in the composer');
    const pageHeard: string[] = [];
    const listener = (e: KeyboardEvent) => pageHeard.push(e.key);
    document.addEventListener('keydown', listener);
    await sendKeys({ press: 'Escape' });
    document.removeEventListener('keydown', listener);
    await waitFor(() => !el.opened && shadow(el).activeElement?.classList.contains('launcher'), 'focus back on the launcher');
    expect(pageHeard).to.deep.equal([]); // the widget's Escape does not also close a dialog of the page around it
    // Opened again, with the focus left on the launcher: Escape there closes it too.
    await sendKeys({ press: 'Enter' });
    await waitFor(() => el.opened, 'open again');
    $<HTMLButtonElement>(el, '.launcher')!.focus();
    await sendKeys({ press: 'Escape' });
    await waitFor(() => !el.opened, 'closed from the launcher');
  });

  it('closed by the page\'s script while the reader types in the page: the focus stays in the page', async () => {
    const { el } = await visitorElement({ open: true });
    const field = document.createElement('input');
    document.body.append(field);
    try {
      field.focus();
      el.close();
      await el.updateComplete;
      await new Promise((r) => setTimeout(r, 50));
      expect(document.activeElement).to.equal(field);
    } finally {
      field.remove();
    }
  });

  it('counts unread messages on the closed launcher and fires live-chat-unread; opening shows a "new messages" divider', async () => {
    const { el, visitorId } = await visitorElement();
    const agent = await agentFor(visitorId);
    const counts: number[] = [];
    el.addEventListener('live-chat-unread', (e) => counts.push(e.detail.count));
    await agent.send('are you there?');
    await agent.send('hello?');
    await waitFor(() => $(el, '.badge')?.textContent === '2', 'the badge');
    expect(counts.at(-1)).to.equal(2);
    await expect(el).to.be.accessible(); // the name comes from the launcher's content, so it contains what is seen (the count)
    expect($(el, '.launcher .visually-hidden')!.textContent).to.equal('Open chat (2 unread)');
    el.open();
    // Seen on opening, and the badge cleared in that same render: updateComplete is false when a render had to ask for another.
    expect(await el.updateComplete).to.equal(true);
    expect($(el, '.divider')).to.exist;
    expect(counts.at(-1)).to.equal(0);
  });

  it('announces incoming messages, and only those, in a polite live region', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    const agent = await agentFor(visitorId);
    const live = $(el, '[aria-live="polite"]')!;
    await el.send('mine');
    await new Promise((r) => setTimeout(r, 300));
    expect(live.textContent).to.equal('');
    await agent.send('from support');
    await waitFor(() => live.textContent === 'New message from Support: from support', 'the announcement');
    // The same words again are a new announcement (a node added), not an unchanged region a screen reader ignores.
    const first = live.firstElementChild;
    await agent.send('from support');
    await waitFor(() => live.children.length === 2, 'announced again');
    expect(live.firstElementChild === first, 'the first left as it was').to.equal(true);
    expect([...live.children].map((p) => p.textContent)).to.deep.equal(['New message from Support: from support', 'New message from Support: from support']);
  });

  it('says who wrote each group to a screen reader, own messages too ("You", not shown)', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    const agent = await agentFor(visitorId);
    await el.send('mine');
    await waitFor(() => storedContents(agent).length === 1, 'at the agent');
    await agent.send('theirs');
    await waitFor(() => shadow(el).querySelectorAll('.group').length === 2, 'two groups');
    expect([...shadow(el).querySelectorAll('.group')].map((g) => g.firstElementChild!.textContent)).to.deep.equal(['You', 'Support']);
    const you = shadow(el).querySelector('.group.own')!.firstElementChild!;
    expect(you.getBoundingClientRect().width, 'not shown').to.be.at.most(1);
  });

  it('announces each of several messages arriving a moment apart: each is added after the others, none takes another\'s place', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    const agent = await agentFor(visitorId);
    await waitFor(() => el.status === 'connected', 'connected');
    const live = $(el, '[aria-live="polite"]')!;
    const added: string[] = [];
    let removed = 0;
    const watcher = new MutationObserver((records) => {
      for (const record of records) {
        for (const node of record.addedNodes) if (node instanceof HTMLElement) added.push(node.textContent!);
        removed += [...record.removedNodes].filter((node) => node instanceof HTMLElement).length;
      }
    });
    watcher.observe(live, { childList: true, subtree: true });
    try {
      await Promise.all(['burst 1', 'burst 2', 'burst 3', 'burst 4'].map((text) => agent.send(text)));
      await waitFor(() => added.length === 4, () => `four announcements, got ${JSON.stringify(added)}`);
      await sleep(100);
    } finally {
      watcher.disconnect();
    }
    expect(added).to.deep.equal(['burst 1', 'burst 2', 'burst 3', 'burst 4'].map((t) => `New message from Support: ${t}`));
    expect(removed, 'no announcement taken away before it was said').to.equal(0);
  });

  it('announces a message that arrives while the panel is closed (what the badge tells a sighted reader), and the region stays as the panel opens', async () => {
    const { el, visitorId } = await visitorElement({ open: false });
    const agent = await agentFor(visitorId);
    const live = $(el, '[aria-live="polite"]')!;
    await agent.send('while you were away');
    await waitFor(() => live.textContent === 'New message from Support: while you were away', 'the announcement, panel closed');
    el.open();
    await el.updateComplete;
    expect($(el, '[aria-live="polite"]') === live, 'the same region').to.equal(true);
  });

  it('announces every message missed while offline when they arrive together (the latest five), not only the last', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    const agent = await agentFor(visitorId);
    await waitFor(() => el.status === 'connected', 'connected');
    const live = $(el, '[aria-live="polite"]')!;
    Object.defineProperty(navigator, 'onLine', { configurable: true, get: () => false });
    try {
      window.dispatchEvent(new Event('offline'));
      await waitFor(() => el.status === 'offline', 'offline', 1000);
      for (const text of ['missed A', 'missed B', 'missed C']) await agent.send(text);
      await waitFor(() => storedContents(agent).length === 3, 'stored while the visitor is away');
    } finally {
      delete (navigator as { onLine?: boolean }).onLine;
    }
    window.dispatchEvent(new Event('online'));
    await waitFor(() => bubbles(el).length === 3, 'the three missed messages');
    await el.updateComplete;
    expect([...live.querySelectorAll('p')].map((p) => p.textContent)).to.deep.equal(['missed A', 'missed B', 'missed C'].map((t) => `New message from Support: ${t}`));
  });

  it('shows the typing indicator while the other side types', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    const agent = await agentFor(visitorId);
    agent.setTyping(true);
    await waitFor(() => $(el, '.typing')!.textContent === 'Support is typing…', 'the indicator');
    agent.setTyping(false);
    await waitFor(() => $(el, '.typing')!.textContent === '', 'the indicator gone');
  });

  it('typing again right after sending shows on the other side within about a second (the server forwards one "typing" a second)', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    const agent = await agentFor(visitorId);
    const typing: { is_typing: boolean; at: number }[] = [];
    agent.on('typing', ({ is_typing }) => typing.push({ is_typing, at: performance.now() }));
    const input = $<HTMLTextAreaElement>(el, 'textarea')!;
    input.focus();
    await sendKeys({ type: 'first' });
    await sendKeys({ press: 'Enter' });
    await waitFor(() => typing.at(-1)?.is_typing === false, 'typing off on sending');
    const typedAt = performance.now();
    await sendKeys({ type: 'and' });
    await waitFor(() => typing.at(-1)?.is_typing === true, 'typing on again', 3000);
    expect(typing.at(-1)!.at - typedAt).to.be.below(2000);
  });

  it('a wall clock set back does not hold back the next "typing"', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    const agent = await agentFor(visitorId);
    const typing: boolean[] = [];
    agent.on('typing', ({ is_typing }) => typing.push(is_typing));
    const input = $<HTMLTextAreaElement>(el, 'textarea')!;
    input.focus();
    await sendKeys({ type: 'a' });
    await waitFor(() => typing.at(-1) === true, 'typing on');
    input.value = '';
    input.dispatchEvent(new Event('input'));
    await waitFor(() => typing.at(-1) === false, 'typing off');
    const realNow = Date.now;
    Date.now = () => realNow() - 600_000; // set back ten minutes
    try {
      await sleep(1300);
      await sendKeys({ type: 'b' });
      await waitFor(() => typing.at(-1) === true, 'typing on again', 3000);
    } finally {
      Date.now = realNow;
    }
  });

  it('speaks Japanese, Thai, Traditional Chinese and Indonesian by lang', async () => {
    for (const [lang, send] of [['ja', '送信'], ['th', 'ส่ง'], ['zh-TW', '傳送'], ['id', 'Kirim']] as const) {
      const { el } = await visitorElement({ mode: 'inline', lang });
      expect($(el, '.send')!.getAttribute('aria-label'), lang).to.equal(send);
    }
  });

  it('shows "stopped" with a Reconnect button when the server is gone, and reconnect() brings it back', async () => {
    const own = await startChatServer();
    const el = await fixture<LiveChatElement>(html`<live-chat mode="inline" server-url=${own.wsUrl} token=${await makeToken({ sub: uniqueId('v') })}></live-chat>`);
    const statuses: string[] = [];
    el.addEventListener('live-chat-status', (e) => statuses.push(e.detail.status));
    await waitFor(() => statuses.includes('connected'), 'connected');
    await stopChatServer(own);
    // The default schedule (0, 1, 2, 4, 8 s) takes 15 s to give up; the notice shows from the first close.
    await waitFor(() => statuses.includes('reconnecting'), 'reconnecting');
    expect($(el, '.connection')!.textContent).to.equal('Connecting…');
  });

  it('theme and position: dark colours, the launcher on the left', async () => {
    const { el } = await visitorElement({ open: true });
    const light = getComputedStyle($(el, '.panel')!).backgroundColor;
    el.setAttribute('theme', 'dark');
    el.setAttribute('position', 'left');
    await el.updateComplete;
    expect(getComputedStyle($(el, '.panel')!).backgroundColor).to.not.equal(light);
    expect($(el, '.launcher')!.getBoundingClientRect().left).to.be.below(100);
    el.style.setProperty('--live-chat-accent', 'rgb(1, 2, 3)');
    expect(getComputedStyle($(el, '.launcher')!).backgroundColor).to.equal('rgb(1, 2, 3)');
  });

  it('right-to-left: on an RTL page the layout mirrors (launcher and own messages on the left)', async () => {
    const { el, visitorId } = await visitorElement({ open: true });
    el.setAttribute('dir', 'rtl');
    el.removeAttribute('lang'); // no language chosen: the page's direction
    await el.updateComplete;
    const agent = await agentFor(visitorId);
    await el.send('mine');
    await agent.send('theirs');
    await waitFor(() => bubbles(el).length === 2, 'both messages');
    expect($(el, '.launcher')!.getBoundingClientRect().left).to.be.below(100);
    const [mine, theirs] = bubbles(el).map((b) => b.getBoundingClientRect());
    expect(mine!.left).to.be.below(theirs!.left); // own messages sit at the inline end, which is the left in RTL
    // A position given is where it says, on any page; so is the direction of a language given.
    el.setAttribute('position', 'right');
    await el.updateComplete;
    expect($(el, '.launcher')!.getBoundingClientRect().right).to.be.above(window.innerWidth - 100);
    expect($(el, '.panel')!.hasAttribute('dir')).to.equal(false);
    el.removeAttribute('position');
    el.setAttribute('lang', 'en');
    await el.updateComplete;
    expect($(el, '.panel')!.getAttribute('dir')).to.equal('ltr');
    // The panel's own direction is English's, but it still opens on the page's side, above the launcher.
    expect($(el, '.launcher')!.getBoundingClientRect().left).to.be.below(100);
    expect($(el, '.panel')!.getBoundingClientRect().left).to.be.below(100);
  });

  it('a message in a right-to-left script sits right-to-left in its bubble, in any widget', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    const agent = await agentFor(visitorId);
    await agent.send('שלום, מה שלומך?');
    await waitFor(() => bubbles(el).length === 1, 'the message');
    expect(getComputedStyle(bubbles(el)[0]!).direction).to.equal('rtl');
    expect($(el, 'textarea')!.getAttribute('dir')).to.equal('auto');
  });

  it('the composer grows with its content', async () => {
    const { el } = await visitorElement({ mode: 'inline' });
    el.style.height = '500px';
    const input = $<HTMLTextAreaElement>(el, 'textarea')!;
    const one = input.getBoundingClientRect().height;
    input.value = 'one\ntwo\nthree';
    input.dispatchEvent(new Event('input'));
    await el.updateComplete;
    expect(input.getBoundingClientRect().height).to.be.greaterThan(one);
  });

  it('fills the screen under 480 px wide, the launcher under it out of sight and out of the tab order', async () => {
    await setViewport({ width: 375, height: 667 });
    try {
      const { el } = await visitorElement({ open: true });
      const panel = $(el, '.panel')!;
      await Promise.all(panel.getAnimations().map((a) => a.finished)); // the opening pop
      const rect = panel.getBoundingClientRect();
      expect([rect.left, rect.top, rect.width], JSON.stringify(rect)).to.deep.equal([0, 0, 375]);
      expect(Math.round(rect.height)).to.equal(667);
      expect(getComputedStyle($(el, '.launcher')!).display).to.equal('none');
      el.close();
      await el.updateComplete;
      expect(getComputedStyle($(el, '.launcher')!).display).to.not.equal('none');
    } finally {
      await setViewport({ width: 800, height: 600 });
    }
  });

  it('fills the screen when it is short too (a phone turned sideways, a desktop at 200% zoom), its header and composer whole', async () => {
    await setViewport({ width: 640, height: 400 });
    try {
      const { el } = await visitorElement({ open: true, lang: 'ja' });
      const panel = $(el, '.panel')!;
      await Promise.all(panel.getAnimations().map((a) => a.finished));
      const rect = panel.getBoundingClientRect();
      expect([rect.left, rect.top, rect.width, Math.round(rect.height)], JSON.stringify(rect)).to.deep.equal([0, 0, 640, 400]);
      expect(panel.getAttribute('aria-modal')).to.equal('true');
      const input = $<HTMLTextAreaElement>(el, 'textarea')!;
      input.value = 'one\ntwo\nthree';
      input.dispatchEvent(new Event('input'));
      await el.updateComplete;
      for (const part of ['.header', 'form']) {
        const box = $(el, part)!.getBoundingClientRect();
        expect(box.top >= 0 && box.bottom <= 400 + 0.5, `${part} inside the screen: ${JSON.stringify(box)}`).to.equal(true);
      }
    } finally {
      await setViewport({ width: 800, height: 600 });
    }
  });

  it('aria-modal follows the viewport while the panel is open (a phone turned, a window resized)', async () => {
    const { el } = await visitorElement({ open: true });
    await el.updateComplete;
    expect($(el, '.panel')!.hasAttribute('aria-modal')).to.equal(false);
    try {
      await setViewport({ width: 375, height: 667 });
      await waitFor(() => $(el, '.panel')!.getAttribute('aria-modal') === 'true', 'modal once narrow', 2000);
    } finally {
      await setViewport({ width: 800, height: 600 });
    }
    await waitFor(() => !$(el, '.panel')!.hasAttribute('aria-modal'), 'not modal once wide again', 2000);
  });

  it("a link that had the focus goes with the conversation: where the page moved the focus meanwhile, it stays", async () => {
    const agentToken = await makeToken({ sub: uniqueId('agent'), role: 'agent' });
    const [first, second] = [uniqueId('v'), uniqueId('v')];
    const el = await fixture<LiveChatElement>(html`<live-chat mode="inline" server-url=${server.wsUrl} token=${agentToken} conversation-id=${first}></live-chat>`);
    const after = document.createElement('button');
    after.textContent = 'the page';
    document.body.append(after);
    try {
      el.addEventListener('focusout', (event) => (event as FocusEvent).relatedTarget === null && after.focus());
      await waitFor(() => el.status === 'connected', 'connected');
      await el.send('see https://example.com/x');
      await waitFor(() => $(el, '.bubble a'), 'the link');
      $<HTMLAnchorElement>(el, '.bubble a')!.focus();
      el.setAttribute('conversation-id', second);
      await waitFor(() => !$(el, '.bubble a'), 'the other conversation shown');
      await el.updateComplete;
      expect(document.activeElement === after, 'the focus where the page put it').to.equal(true);
    } finally {
      after.remove();
    }
  });

  it('full screen, Tab goes round the panel (the page under it is hidden) and the panel says it is modal', async () => {
    await setViewport({ width: 375, height: 667 });
    try {
      const { el } = await visitorElement({ open: true });
      await el.updateComplete;
      expect($(el, '.panel')!.getAttribute('aria-modal')).to.equal('true');
      $<HTMLButtonElement>(el, '.send')!.focus();
      await sendKeys({ press: 'Tab' });
      expect(shadow(el).activeElement === $(el, '.header button'), 'from the last control to the first').to.equal(true);
      await sendKeys({ down: 'Shift' });
      await sendKeys({ press: 'Tab' });
      await sendKeys({ up: 'Shift' });
      expect(shadow(el).activeElement === $(el, '.send'), 'from the first back to the last').to.equal(true);
    } finally {
      await setViewport({ width: 800, height: 600 });
    }
    const { el } = await visitorElement({ open: true });
    await el.updateComplete;
    expect($(el, '.panel')!.hasAttribute('aria-modal')).to.equal(false); // a floating panel beside the page
  });

  it('a reader at the bottom stays there when the list gets shorter without a new message (the composer grows, the keyboard opens)', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    el.style.height = '400px';
    const agent = await agentFor(visitorId);
    for (let i = 1; i <= 30; i++) await agent.send(`line ${i}`);
    await waitFor(() => bubbles(el).length === 30, 'all shown');
    const list = $(el, '.messages')!;
    const atBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 2;
    await waitFor(atBottom, 'at the bottom');
    const input = $<HTMLTextAreaElement>(el, 'textarea')!;
    input.value = 'one\ntwo\nthree\nfour';
    input.dispatchEvent(new Event('input'));
    await waitFor(atBottom, 'still at the bottom with the composer grown', 1000);
    el.style.height = '250px';
    await waitFor(atBottom, () => `still at the bottom with the panel shorter ${list.scrollHeight} ${list.scrollTop} ${list.clientHeight} ${el.getBoundingClientRect().height} ${$(el, '.panel')!.getBoundingClientRect().height}`, 1000);
  });

  it('Retry pressed from the keyboard: the focus goes to the composer, not to the page, when the button goes', async () => {
    // The server's first answer to a send is a refusal (4000): the message fails, and Retry sends it.
    const RealWebSocket = window.WebSocket;
    let refused = false;
    window.WebSocket = class extends RealWebSocket {
      override send(data: string) {
        if (refused || !data.includes('"type":"send_message"')) return super.send(data);
        refused = true;
        const id = (JSON.parse(data) as { message_id: string }).message_id;
        const error = { type: 'error', message_id: id, timestamp: new Date().toISOString(), payload: { code: 4000, reason: 'BAD_REQUEST', message: 'refused', retryable: false, message_id: id } };
        setTimeout(() => this.onmessage?.(new MessageEvent('message', { data: JSON.stringify(error) })), 5);
      }
    };
    try {
      const { el } = await visitorElement({ mode: 'inline' });
      const errors: { code: number; message_id?: string }[] = [];
      el.addEventListener('live-chat-error', (e) => errors.push({ code: e.detail.code, message_id: e.detail.message_id }));
      const sent = await el.send('refused once');
      await waitFor(() => $(el, '.retry'), 'the Retry button');
      // What a sighted reader sees ("Not sent") is said too.
      await waitFor(() => $(el, '[aria-live="polite"]')!.textContent === 'Not sent: refused once', 'the failure announced');
      expect(errors, 'the page hears which message').to.deep.equal([{ code: 4000, message_id: sent.message_id }]);
      $<HTMLButtonElement>(el, '.retry')!.focus();
      await sendKeys({ press: 'Enter' });
      await waitFor(() => !$(el, '.retry') && $(el, '.group.own .meta span')?.textContent === 'Sent', 'sent on the retry');
      expect(shadow(el).activeElement?.tagName).to.equal('TEXTAREA');
    } finally {
      window.WebSocket = RealWebSocket;
    }
  });

  it("shows a message's time alone today, and with its date on a later day", async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    const agent = await agentFor(visitorId);
    await agent.send('hello');
    await waitFor(() => $(el, 'time'), 'a time');
    const sentAt = Date.parse($(el, 'time')!.getAttribute('datetime')!);
    expect($(el, 'time')!.textContent).to.equal(new Intl.DateTimeFormat('en', { hour: 'numeric', minute: '2-digit' }).format(sentAt));
    const realNow = Date.now;
    Date.now = () => realNow() + 3 * 24 * 3600_000; // three days on
    try {
      el.requestUpdate();
      await el.updateComplete;
      expect($(el, 'time')!.textContent).to.equal(new Intl.DateTimeFormat('en', { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }).format(sentAt));
    } finally {
      Date.now = realNow;
    }
  });

  it('an empty placeholder attribute still leaves the composer its name; times keep their own direction', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline', placeholder: '' });
    expect($(el, 'label[for="input"]')!.textContent).to.equal('Write a message…');
    const agent = await agentFor(visitorId);
    await agent.send('hello');
    await waitFor(() => $(el, 'time'), 'a time');
    expect($(el, 'time')!.getAttribute('dir')).to.equal('auto');
  });

  it('the focus ring shows on the accent (the header, links in own messages): drawn in the colour drawn on it', async () => {
    const { el } = await visitorElement({ open: true });
    await el.updateComplete;
    const close = $<HTMLButtonElement>(el, '.header button')!;
    $(el, '.messages')!.focus();
    await sendKeys({ down: 'Shift' });
    await sendKeys({ press: 'Tab' }); // by keyboard (:focus-visible), back to the header's button
    await sendKeys({ up: 'Shift' });
    expect(shadow(el).activeElement === close, 'the close button focused').to.equal(true);
    const ring = getComputedStyle(close).outlineColor;
    expect(contrast(ring, getComputedStyle($(el, '.header')!).backgroundColor)).to.be.greaterThan(3);
  });

  describe('states a visitor can meet', () => {
    async function inline(token: string, conversationId?: string) {
      const el = await fixture<LiveChatElement>(html`<live-chat mode="inline" server-url=${server.wsUrl} token=${token} conversation-id=${conversationId ?? ''}></live-chat>`);
      return el;
    }
    const notice = (el: LiveChatElement) => $(el, '.notice');

    it('session expired with no other token to be had (the token attribute\'s was refused): says so without a Reconnect that could only fail, passes axe; a new token gets it going', async () => {
      const sub = uniqueId('v');
      const el = await inline(await makeToken({ sub, expSeconds: 1 }));
      await waitFor(() => el.status === 'auth-failed', 'auth-failed', 6000);
      await el.updateComplete;
      expect(notice(el)!.textContent).to.contain('Your session has expired.');
      expect(notice(el)!.querySelector('button') === null, 'no Reconnect').to.equal(true);
      await expect(el).to.be.accessible();
      el.setAttribute('token', await makeToken({ sub }));
      await waitFor(() => el.status === 'connected', 'connected with the new token');
      await el.updateComplete;
      expect(notice(el) === null, 'the notice gone').to.equal(true);
    });

    it('no token to be had (a provider saying so, after a moment): session expired; Reconnect keeps the same alert (not taken away and said anew)', async () => {
      const signedOut = () => sleep(100).then(() => Promise.reject(new NoToken('signed out')));
      const el = await fixture<LiveChatElement>(html`<live-chat mode="inline" server-url=${server.wsUrl} .tokenProvider=${signedOut}></live-chat>`);
      await waitFor(() => el.status === 'auth-failed', 'auth-failed');
      await el.updateComplete;
      const shown = notice(el)!;
      expect(shown.textContent).to.contain('Your session has expired.');
      const removed: Node[] = [];
      const watcher = new MutationObserver((records) => records.forEach((r) => removed.push(...r.removedNodes)));
      watcher.observe(el.shadowRoot!, { childList: true, subtree: true });
      const statuses: string[] = [];
      el.addEventListener('live-chat-status', (e) => statuses.push(e.detail.status));
      shown.querySelector('button')!.click();
      el.requestUpdate(); // anything rendering while the provider is asked (a message, typing)
      await el.updateComplete;
      await waitFor(() => statuses.length >= 2 && el.status === 'auth-failed', () => `tried again and refused, statuses ${statuses.join()}`);
      await el.updateComplete;
      watcher.disconnect();
      expect(notice(el) === shown && !removed.includes(shown), 'the same alert all along').to.equal(true);
    });

    it('replaced by another window: says so, offers "Use here", passes axe', async () => {
      const sub = uniqueId('v');
      const token = await makeToken({ sub });
      const el = await inline(token);
      await waitFor(() => el.status === 'connected', 'connected');
      const other = await connectSameDevice(server, sub, token);
      await waitFor(() => el.status === 'replaced', 'replaced');
      await el.updateComplete;
      expect(notice(el)!.textContent).to.contain('This chat is open in another window.');
      expect(notice(el)!.querySelector('button')!.textContent).to.equal('Use here');
      await expect(el).to.be.accessible();
      other.close();
      // Taken back by keyboard: the notice goes, and the focus goes to the composer, not to the page's body.
      notice(el)!.querySelector('button')!.focus();
      await sendKeys({ press: 'Enter' });
      await waitFor(() => el.status === 'connected', 'connected here again');
      await el.updateComplete;
      expect(el.shadowRoot!.activeElement === $(el, 'textarea'), 'the composer has the focus').to.equal(true);
    });

    it('on a phone, a notice\'s button keeps its word on one line in every language (the notice\'s text wraps instead)', async () => {
      await setViewport({ width: 375, height: 667 });
      const el = await inline(await makeToken({ sub: uniqueId('v') }));
      Object.defineProperty(navigator, 'onLine', { configurable: true, get: () => false });
      try {
        await waitFor(() => el.status === 'connected', 'connected');
        window.dispatchEvent(new Event('offline'));
        await waitFor(() => el.status === 'offline', 'offline', 1000);
        for (const lang of ['ja', 'th', 'id', 'zh-TW', 'en']) {
          el.setAttribute('lang', lang);
          await el.updateComplete;
          const button = notice(el)!.querySelector('button')!;
          const range = document.createRange();
          range.selectNodeContents(button);
          const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
          expect(lines.size, `${lang}: "${button.textContent}" on ${lines.size} lines`).to.equal(1);
        }
      } finally {
        delete (navigator as { onLine?: boolean }).onLine;
        window.dispatchEvent(new Event('online'));
        await setViewport({ width: 800, height: 600 });
      }
    });

    it('on a right-to-left page in English, the widget\'s sentences keep their full stops at their end', async () => {
      const el = await inline(await makeToken({ sub: uniqueId('v') }));
      el.setAttribute('dir', 'rtl'); // the page's direction, no language chosen: the layout mirrors, the words are English
      el.removeAttribute('lang');
      Object.defineProperty(navigator, 'onLine', { configurable: true, get: () => false });
      try {
        await waitFor(() => el.status === 'connected', 'connected');
        window.dispatchEvent(new Event('offline'));
        await waitFor(() => el.status === 'offline', 'offline', 1000);
        await el.updateComplete;
        const span = notice(el)!.querySelector('span')!;
        const text = [...span.childNodes].find((node): node is Text => node.nodeType === Node.TEXT_NODE && (node as Text).data.endsWith('back.'))!;
        const at = text.data.lastIndexOf('back.');
        expect(at, text.data).to.be.above(0);
        const rectOf = (start: number, end: number) => {
          const range = document.createRange();
          range.setStart(text, start);
          range.setEnd(text, end);
          return range.getBoundingClientRect();
        };
        const word = rectOf(at, at + 'back'.length);
        const stop = rectOf(at + 'back'.length, at + 'back.'.length);
        expect(stop.left >= word.right - 1, `the full stop at ${stop.left}, the word ends at ${word.right}`).to.equal(true);
      } finally {
        delete (navigator as { onLine?: boolean }).onLine;
        window.dispatchEvent(new Event('online'));
      }
    });

    it('offline (the browser lost its network): live-chat-status says offline, the notice says messages wait, passes axe; online connects again', async () => {
      const el = await inline(await makeToken({ sub: uniqueId('v') }));
      await waitFor(() => el.status === 'connected', 'connected');
      const statuses: string[] = [];
      el.addEventListener('live-chat-status', (e) => statuses.push(e.detail.status));
      Object.defineProperty(navigator, 'onLine', { configurable: true, get: () => false });
      try {
        window.dispatchEvent(new Event('offline'));
        await waitFor(() => el.status === 'offline', 'offline', 1000);
        await el.updateComplete;
        expect(statuses).to.deep.equal(['offline']);
        expect($(el, '.connection')!.textContent).to.equal('Offline');
        expect(notice(el)!.textContent).to.contain('You are offline.');
        expect(notice(el)!.querySelector('button')!.textContent).to.equal('Reconnect');
        await expect(el).to.be.accessible();
        // A send tries again (the contract asks it) and finds no network: the alert stays, not announced anew.
        const shown = notice(el);
        await signalServer(server, 'SIGSTOP');
        try {
          await el.send('written offline');
          await waitFor(() => el.status === 'connecting', 'a try');
          await el.updateComplete;
          expect(notice(el) === shown, 'the same alert, still there').to.equal(true);
          expect($(el, '.connection')!.textContent).to.equal('Offline');
          // A message waiting to go out still reads at 4.5:1, in both themes.
          expect($(el, '.bubble.pending')).to.not.equal(null);
          for (const theme of ['light', 'dark']) {
            el.setAttribute('theme', theme);
            await el.updateComplete;
            await expect(el, `${theme}, a message waiting`).to.be.accessible();
          }
          // The browser online again while that try goes on (the server still out of reach): not "offline" any more.
          delete (navigator as { onLine?: boolean }).onLine;
          window.dispatchEvent(new Event('online'));
          await el.updateComplete;
          expect(el.status).to.equal('connecting');
          expect($(el, '.connection')!.textContent).to.equal('Connecting…');
          expect(notice(el) === null, 'no notice').to.equal(true);
        } finally {
          await signalServer(server, 'SIGCONT');
        }
      } finally {
        delete (navigator as { onLine?: boolean }).onLine;
      }
      window.dispatchEvent(new Event('online'));
      await waitFor(() => el.status === 'connected', 'connected again');
      await el.updateComplete;
      expect(notice(el)).to.equal(null);
    });

    it('stopped (no access to that conversation): says Disconnected, offers Reconnect, passes axe', async () => {
      const el = await inline(await makeToken({ sub: uniqueId('v') }), uniqueId('someone-else'));
      await waitFor(() => el.status === 'stopped', 'stopped');
      await el.updateComplete;
      expect(notice(el)!.textContent).to.contain('Disconnected.');
      expect(notice(el)!.querySelector('button')!.textContent).to.equal('Reconnect');
      await expect(el).to.be.accessible();
      // Reconnect tried, and refused again: the same alert all along, not taken away and announced anew.
      const shown = notice(el);
      const statuses: string[] = [];
      el.addEventListener('live-chat-status', (e) => statuses.push(e.detail.status));
      shown!.querySelector('button')!.click();
      for (let i = 0; i < 100 && !(statuses.includes('connecting') && el.status === 'stopped'); i++) {
        await el.updateComplete;
        expect(notice(el) === shown, 'the same alert').to.equal(true);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(statuses.at(-1)).to.equal('stopped');
      expect(notice(el) === shown, 'the same alert').to.equal(true);
    });

    it('rate limited (4008) while writing fast: one notice while messages wait, gone once all are sent', async () => {
      const own = await startChatServer({ RATE_LIMIT_PER_MINUTE: '2', RATE_LIMIT_WINDOW_MS: '1500' });
      try {
        const sub = uniqueId('v');
        const el = await fixture<LiveChatElement>(html`<live-chat mode="inline" server-url=${own.wsUrl} token=${await makeToken({ sub })}></live-chat>`);
        await waitFor(() => el.status === 'connected', 'connected');
        const inserted: Node[] = [];
        new MutationObserver((records) => {
          for (const r of records) for (const node of r.addedNodes) if (node instanceof HTMLElement && node.classList.contains('notice')) inserted.push(node);
        }).observe(el.shadowRoot!, { childList: true, subtree: true });
        const errors: number[] = [];
        el.addEventListener('live-chat-error', (e) => errors.push(e.detail.code));
        for (let i = 1; i <= 6; i++) await el.send(`fast ${i}`);
        await waitFor(() => bubbles(el).filter((b) => b.closest('.pending')).length === 0 && bubbles(el).length === 6, 'all six sent', 15_000);
        await el.updateComplete;
        expect(errors.filter((c) => c === 4008).length).to.be.above(1); // refused more than once
        expect(inserted.length).to.equal(1);
        expect(inserted[0]!.textContent).to.contain('quickly');
        expect(notice(el) === null, 'the notice gone').to.equal(true);
      } finally {
        await stopChatServer(own);
      }
    });
  });

  it('keeps at most a window of messages in the DOM, and scrolling up brings earlier ones', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    el.style.height = '500px'; // inline mode fills its container; give it one
    const agent = await agentFor(visitorId);
    for (let i = 1; i <= 400; i++) void agent.send(`message ${i}`);
    await waitFor(() => storedContents(agent).length === 400, '400 acks', 20_000);
    await waitFor(() => bubbles(el).at(-1)?.textContent === 'message 400', 'the newest at the bottom', 10_000);
    expect(bubbles(el).length).to.be.at.most(150);
    const scroller = $(el, '.messages')!;
    expect(scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight).to.be.below(2); // pinned to the bottom
    const firstShown = () => Number(bubbles(el)[0]!.textContent!.split(' ')[1]);
    const before = firstShown();
    scroller.scrollTop = 0;
    await waitFor(() => firstShown() < before, 'earlier messages after scrolling up');
    expect(bubbles(el).length).to.be.at.most(300);

    // From the keyboard, Home and End go all the way at once, not one window step a press.
    scroller.focus();
    await sendKeys({ press: 'Home' });
    await waitFor(() => firstShown() === 1 && scroller.scrollTop < 2, () => `the oldest at the top after one Home, first shown ${firstShown()}`, 3000);
    await sendKeys({ press: 'End' });
    await waitFor(() => bubbles(el).at(-1)?.textContent === 'message 400' && scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 2, 'the newest at the bottom after one End', 3000);
    await agent.send('message 401');
    await waitFor(() => bubbles(el).at(-1)?.textContent === 'message 401', 'following again');
  });

  it('scrolled up, a new message from the other side shows a button with the unread count that jumps to it (an agent\'s inline view has no badge)', async () => {
    const { el, visitorId } = await visitorElement({ mode: 'inline' });
    el.style.height = '300px';
    const agent = await agentFor(visitorId);
    for (let i = 1; i <= 30; i++) void agent.send(`message ${i}`);
    await waitFor(() => bubbles(el).at(-1)?.textContent === 'message 30', 'the newest at the bottom', 10_000);
    await el.updateComplete;
    expect($(el, '.jump') === null, 'no button while following').to.equal(true);
    const scroller = $(el, '.messages')!;
    scroller.scrollTop = 0;
    await waitFor(() => scroller.scrollTop === 0, 'scrolled up');
    await sleep(100); // the scroll event
    await agent.send('while you were up there');
    const jump = await waitFor(() => $<HTMLButtonElement>(el, '.jump'), 'the button');
    expect(jump.textContent).to.equal('1 unread ↓'); // the arrow hidden from screen readers
    const box = jump.getBoundingClientRect();
    const view = scroller.getBoundingClientRect();
    expect(box.bottom <= view.bottom && box.top >= view.top, 'in sight at the bottom of the list').to.equal(true);
    await expect(el).to.be.accessible();
    jump.click();
    await waitFor(() => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 2 && $(el, '.jump') === null, 'at the newest, the button gone');
    expect(bubbles(el).at(-1)?.textContent).to.equal('while you were up there');
  });

  it('in both themes (two widgets on one page), with messages both ways, the divider and the badge, every text has 4.5:1 contrast (axe, and the badge, which axe skips)', async () => {
    for (const theme of ['light', 'dark']) {
      const { el, visitorId } = await visitorElement();
      el.setAttribute('theme', theme);
      const agent = await agentFor(visitorId);
      await el.send('mine');
      await agent.send('theirs, unread');
      await waitFor(() => $(el, '.badge'), 'the badge');
      const badge = getComputedStyle($(el, '.badge')!);
      expect(contrast(badge.color, badge.backgroundColor), `${theme} badge`).to.be.at.least(4.5);
      el.open();
      await waitFor(() => $(el, '.divider'), 'the divider');
      await Promise.all($(el, '.panel')!.getAnimations().map((animation) => animation.finished)); // axe reads colours mid-fade otherwise
      await expect(el, theme).to.be.accessible();
      el.close(); // it stays on the page: the next one is checked beside it
    }
  });

  it('is accessible (axe) closed, open and inline', async () => {
    const { el } = await visitorElement();
    await expect(el).to.be.accessible();
    el.open();
    await el.updateComplete;
    await expect(el).to.be.accessible();
    const inline = await visitorElement({ mode: 'inline' });
    await expect(inline.el).to.be.accessible();
  });
});
