// The script-tag bundle (dist/live-chat.js, as built): loading it registers <live-chat>, loading
// it twice throws nothing, and the widget works on a page with a strict Content-Security-Policy.
import { expect } from '@open-wc/testing';
import { makeToken, startChatServer, stopChatServer, Tab, uniqueId, waitFor, type ServerInfo } from './harness.js';

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

describe('dist/live-chat.js', () => {
  let server: ServerInfo;

  before(async () => {
    server = await startChatServer();
  });
  after(async () => {
    await stopChatServer(server);
  });

  it('registers live-chat when loaded, and loading it twice throws nothing', async () => {
    const errors: string[] = [];
    const onError = (e: ErrorEvent) => errors.push(e.message);
    window.addEventListener('error', onError);
    try {
      expect(customElements.get('live-chat')).to.equal(undefined);
      await loadScript('/dist/live-chat.js');
      const first = customElements.get('live-chat');
      expect(first).to.be.a('function');
      await loadScript('/dist/live-chat.js?again');
      expect(customElements.get('live-chat')).to.equal(first);
      expect(errors).to.deep.equal([]);
    } finally {
      window.removeEventListener('error', onError);
    }
  });

  it('works under default-src self, no inline styles or eval, and Trusted Types, with no violation', async () => {
    const token = await makeToken({ sub: uniqueId('v') });
    const tab = await Tab.open({ url: server.wsUrl, token, page: '/test/browser/fixtures/csp.html' });
    try {
      await waitFor(() => tab.eval<string>("return document.getElementById('chat').status"), 'the widget', 8000).catch(async (error) => {
        throw new Error(`${error.message}; violations: ${JSON.stringify(await tab.eval('return window.violations'))}; defined: ${await tab.eval("return !!customElements.get('live-chat')")}`);
      });
      await waitFor(async () => (await tab.eval<string>("return document.getElementById('chat').status")) === 'connected', 'connected under the CSP');
      await tab.eval("await document.getElementById('chat').send('sent under a strict CSP')");
      await waitFor(
        () => tab.eval<boolean>("return [...document.getElementById('chat').shadowRoot.querySelectorAll('.bubble')].some((b) => b.textContent === 'sent under a strict CSP')"),
        'the message rendered',
      );
      expect(await tab.eval<string[]>('return window.violations')).to.deep.equal([]);
      expect(await tab.eval<boolean>("return !document.getElementById('chat').hasAttribute('token')")).to.equal(true);
    } finally {
      await tab.close();
    }
  });
});
