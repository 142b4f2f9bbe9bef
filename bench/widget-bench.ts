/// <reference lib="dom" />
// `npm run bench:widget`: the widget on a long conversation in headless Chromium. Seeds N
// messages (default 10,000) through the real server, opens the agent view on it, and prints how
// long the first render takes, how long each page of older history takes as the reader scrolls
// up, how many message bubbles the DOM holds, and the page's JS heap. Options: --messages N
// --pages P (pages of older history to scroll through, default 40).
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { clientFrame, type ServerFrame } from '../src/protocol/index.js';
import { startServer, TEST_JWT_SECRET } from '../test/helpers/server-process.js';
import { makeToken } from '../test/helpers/tokens.js';
import WebSocket from 'ws';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '10000' }, pages: { type: 'string', default: '40' } } });
const MESSAGES = Number(values.messages);
const PAGES = Number(values.pages);
const CHROME = process.env.CHROME_PATH || '/usr/bin/chromium';

/** Sends `count` messages as the conversation's user, in windows of 200 unacked, and waits for every ack. */
async function seed(wsUrl: string, conversationId: string, count: number): Promise<void> {
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let acked = 0;
  let sent = 0;
  const done = new Promise<void>((resolve) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as ServerFrame;
      if (frame.type === 'history') pump();
      if (frame.type === 'message_ack' && 'seq' in frame.payload && frame.payload.seq !== undefined && ++acked === count) resolve();
      else if (frame.type === 'message_ack') pump();
    });
  });
  const pump = () => {
    while (sent < count && sent - acked < 200) {
      ws.send(JSON.stringify(clientFrame('send_message', { conversation_id: conversationId, content: `message ${sent + 1}: ${'lorem ipsum '.repeat(1 + (sent % 6))}`, content_type: 'text' })));
      sent++;
    }
  };
  ws.send(JSON.stringify(clientFrame('auth', { token: await makeToken({ sub: conversationId }) })));
  await new Promise((resolve) => setTimeout(resolve, 100));
  ws.send(JSON.stringify(clientFrame('join_room', { conversation_id: conversationId })));
  await done;
  ws.close();
}

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))] ?? NaN;

const server = await startServer({ DEMO: '1', RATE_LIMIT_PER_MINUTE: '1000000', LOG_LEVEL: 'warn', JWT_SECRET: TEST_JWT_SECRET });
const browser = await puppeteer.launch({
  executablePath: CHROME,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--no-first-run'],
});
try {
  const conversation = `bench-${Date.now().toString(36)}`;
  const seeding = performance.now();
  await seed(server.wsUrl, conversation, MESSAGES);
  console.log(`seeded ${MESSAGES} messages in ${((performance.now() - seeding) / 1000).toFixed(1)} s`);

  const page = await browser.newPage();
  await page.setViewport({ width: 900, height: 800 });
  const opened = performance.now();
  await page.goto(`${server.url}/demo/agent.html?conversation=${conversation}`);
  await page.waitForFunction(() => (document.querySelector('live-chat')?.shadowRoot?.querySelectorAll('.bubble').length ?? 0) >= 50, { timeout: 30_000 });
  console.log(`first render of the newest messages: ${(performance.now() - opened).toFixed(0)} ms after navigation`);

  const pageTimes: number[] = [];
  let maxBubbles = 0;
  for (let i = 0; i < PAGES; i++) {
    const started = performance.now();
    const before = await page.evaluate(() => document.querySelector('live-chat')!.shadowRoot!.querySelector('.bubble')!.textContent);
    await page.evaluate(() => {
      document.querySelector('live-chat')!.shadowRoot!.querySelector('.messages')!.scrollTop = 0;
    });
    await page.waitForFunction((first) => document.querySelector('live-chat')!.shadowRoot!.querySelector('.bubble')!.textContent !== first, { timeout: 10_000 }, before);
    pageTimes.push(performance.now() - started);
    maxBubbles = Math.max(maxBubbles, await page.evaluate(() => document.querySelector('live-chat')!.shadowRoot!.querySelectorAll('.bubble').length));
  }
  const heap = (await page.metrics()).JSHeapUsedSize ?? 0;
  console.log(`scrolling up ${PAGES} times: earlier messages in p50 ${percentile(pageTimes, 50).toFixed(0)} ms, p95 ${percentile(pageTimes, 95).toFixed(0)} ms, max ${Math.max(...pageTimes).toFixed(0)} ms`);
  console.log(`message bubbles in the DOM at most: ${maxBubbles}; page JS heap ${(heap / 1048576).toFixed(1)} MiB`);
} finally {
  await browser.close();
  await server.stop();
}
process.exit(0);
