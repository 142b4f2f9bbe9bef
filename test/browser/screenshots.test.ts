// Screenshot checks of the main states, light and dark, against pictures kept in
// test/browser/screenshots/ (UPDATE_SCREENSHOTS=1 npm test makes them again after a wanted change).
import { expect, fixture, html } from '@open-wc/testing';
import { LiveChatClient } from '../../src/client/index.js';
import { defineLiveChat } from '../../src/ui/define.js';
import type { LiveChatElement } from '../../src/ui/live-chat-element.js';
import { makeToken, screenshotDifference, startChatServer, stopChatServer, uniqueId, waitFor, waitForState, type ServerInfo } from './harness.js';

defineLiveChat();

/** Times of day change from run to run; hide them (and the caret) so pictures compare. */
function freeze(el: LiveChatElement): void {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync('time { visibility: hidden } textarea { caret-color: transparent } .panel { animation: none !important }');
  el.shadowRoot!.adoptedStyleSheets = [...el.shadowRoot!.adoptedStyleSheets, sheet];
  (document.activeElement as HTMLElement | null)?.blur();
}

describe('screenshots', () => {
  let server: ServerInfo;
  let agent: LiveChatClient | undefined;

  before(async () => {
    server = await startChatServer();
    document.body.style.margin = '0';
    document.body.style.background = '#f6f7f9';
  });
  after(async () => {
    await stopChatServer(server);
  });
  afterEach(() => agent?.close());

  async function chat(theme: 'light' | 'dark', mode: 'launcher' | 'inline') {
    const visitorId = uniqueId('v');
    const el = await fixture<LiveChatElement>(html`
      <div style="height: 560px; width: 420px; padding: 20px">
        <live-chat server-url=${server.wsUrl} token=${await makeToken({ sub: visitorId })} theme=${theme} mode=${mode} lang="en" title="Acme support"></live-chat>
      </div>
    `).then((wrapper) => wrapper.querySelector('live-chat') as LiveChatElement);
    await waitFor(() => el.status === 'connected', 'connected');
    agent = new LiveChatClient({ url: server.wsUrl, token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitorId });
    await waitForState(agent, 'connected');
    await el.send('Hi! Do you ship to Bangkok?');
    await agent.send('Yes, we do. Delivery takes 3–5 days; see https://example.com/shipping');
    await waitFor(() => el.shadowRoot!.querySelectorAll('.bubble').length === 2 || !el.shadowRoot!.querySelector('.panel'), 'both messages');
    return el;
  }

  for (const theme of ['light', 'dark'] as const) {
    it(`inline panel with a conversation, ${theme}`, async () => {
      const el = await chat(theme, 'inline');
      await waitFor(() => el.shadowRoot!.querySelector('.group.own .meta span')?.textContent === 'Sent', 'the sent status');
      freeze(el);
      expect(await screenshotDifference(`inline-${theme}`)).to.be.below(0.01);
    });

    it(`launcher with an unread badge, then open, ${theme}`, async () => {
      const el = await chat(theme, 'launcher');
      await waitFor(() => el.shadowRoot!.querySelector('.badge')?.textContent === '1', 'the badge');
      freeze(el);
      expect(await screenshotDifference(`launcher-${theme}`)).to.be.below(0.01);
      el.open();
      await el.updateComplete;
      await waitFor(() => el.shadowRoot!.querySelectorAll('.bubble').length === 2, 'the messages');
      freeze(el);
      expect(await screenshotDifference(`open-${theme}`)).to.be.below(0.01);
    });
  }
});
