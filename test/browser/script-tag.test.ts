// The script-tag bundle (dist/live-chat.js, as built): loading it registers <live-chat>, loading
// it twice throws nothing, and the widget works on a page with a strict Content-Security-Policy.
import { expect } from '@open-wc/testing';
import { styles } from '../../src/ui/styles.js';
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

  /** Opens a fixture page in another tab, its query giving the server and a new visitor's token; runs `check` there, then closes it. */
  async function onPage(page: string, check: (tab: Tab) => Promise<void>): Promise<void> {
    const token = await makeToken({ sub: uniqueId('v') });
    const tab = await Tab.open({ url: server.wsUrl, token, page });
    try {
      await check(tab);
    } finally {
      await tab.close();
    }
  }

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

  it("its styles, minified at build time, are the source's rule for rule as the browser reads them", async () => {
    if (!customElements.get('live-chat')) await loadScript('/dist/live-chat.js');
    const el = document.createElement('live-chat');
    document.body.append(el);
    try {
      // Custom properties keep their values as written: there the space after a comma, which means nothing, is left out too.
      const rules = (sheets: readonly CSSStyleSheet[]) => sheets.flatMap((sheet) => [...sheet.cssRules].map((rule) => rule.cssText.replace(/, /g, ',')));
      const source = new CSSStyleSheet();
      source.replaceSync(styles.cssText);
      const built = rules(el.shadowRoot!.adoptedStyleSheets);
      expect(built.length).to.be.greaterThan(50);
      expect(built).to.deep.equal(rules([source]));
    } finally {
      el.remove();
    }
  });

  it('works under default-src self, no inline styles or eval, and Trusted Types, with no violation, loaded twice', async () => {
    await onPage('/test/browser/fixtures/csp.html', async (tab) => {
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
      expect(await tab.eval<string[]>('return window.errors')).to.deep.equal([]); // the bundle is loaded twice there
      expect(await tab.eval<boolean>("return !document.getElementById('chat').hasAttribute('token')")).to.equal(true);
    });
  });

  it('says nothing is missing while the page is still loading: a tokenProvider set on DOMContentLoaded, after the deferred bundle ran, is in time', async () => {
    await onPage('/test/browser/fixtures/provider-on-load.html', async (tab) => {
      await waitFor(async () => (await tab.eval<string>("return document.getElementById('chat').status")) === 'connected', 'connected with the provider');
      expect(await tab.eval<boolean>('return window.upgradedBeforeProvider'), 'the element was defined before the provider came').to.equal(true);
      expect(await tab.eval<unknown[]>('return window.errors')).to.deep.equal([]);
    });
  });

  it('says what is missing once DOMContentLoaded is over, without waiting for a slow image to let the page load', async () => {
    await onPage('/test/browser/fixtures/missing-token-slow-page.html', async (tab) => {
      await waitFor(async () => (await tab.eval<unknown[]>('return window.errors')).length > 0, 'the error');
      expect(await tab.eval<unknown[]>('return window.errors')).to.deep.equal([
        { code: 0, message: 'live-chat needs a token attribute or a tokenProvider', readyState: 'interactive' },
      ]);
    });
  });
});
