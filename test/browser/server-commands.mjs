// Server-side commands for the browser tests (web-test-runner plugin): start, stop and restart
// the real built server, lock its database, mint tokens, and open extra tabs in the same
// browser context. The browser calls them with executeServerCommand (test/browser/harness.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pixelmatch from 'pixelmatch';
import { PNG } from 'pngjs';
import { startServer, TEST_JWT_SECRET } from '../../build/test/helpers/server-process.js';
import { makeTempDir, removeTempDir } from '../../build/test/helpers/temp-dir.js';
import { makeToken } from '../../build/test/helpers/tokens.js';

export function liveChatCommands() {
  /** id → { process, env, dir, port, lock } */
  const servers = new Map();
  /** id → puppeteer Page */
  const tabs = new Map();
  let nextId = 1;

  const server = (id) => {
    const entry = servers.get(id);
    if (!entry) throw new Error(`no test server ${id}`);
    return entry;
  };
  const describe = (id, entry) => ({ id, url: entry.process.url, wsUrl: entry.process.wsUrl, port: entry.port });

  const commands = {
    async 'lc-server-start'({ env = {} } = {}) {
      const dir = await makeTempDir('live-chat-browser-');
      const fullEnv = { DATABASE_URL: `sqlite:${join(dir, 'chat.db')}`, LOG_LEVEL: 'warn', SQLITE_BUSY_TIMEOUT_MS: '100', ...env };
      const process = await startServer(fullEnv);
      const id = String(nextId++);
      servers.set(id, { process, env: fullEnv, dir, port: process.port, lock: undefined });
      return describe(id, servers.get(id));
    },
    async 'lc-server-stop'({ id, signal = 'SIGTERM' }) {
      const entry = server(id);
      const exit = await entry.process.stop(signal);
      return { code: exit.code, signal: exit.signal };
    },
    /** Starts the server again on the same port and database, as a restart would; `fresh` gives it an empty database (a reset store). */
    async 'lc-server-restart'({ id, fresh = false }) {
      const entry = server(id);
      if (entry.process.child.exitCode === null && entry.process.child.signalCode === null) await entry.process.stop();
      if (fresh) entry.env = { ...entry.env, DATABASE_URL: `sqlite:${join(entry.dir, `chat-${nextId++}.db`)}` };
      entry.process = await startServer({ ...entry.env, PORT: String(entry.port) });
      return describe(id, entry);
    },
    /** The server's /metrics text (fetched here: the test page's origin is not the server's). */
    async 'lc-server-metrics'({ id }) {
      return (await fetch(`${server(id).process.url}/metrics`)).text();
    },
    /** SIGSTOP freezes the server with its sockets open (a hung server, a dead route); SIGCONT thaws it. */
    async 'lc-server-signal'({ id, signal }) {
      server(id).process.child.kill(signal);
      return true;
    },
    /** Holds the database's write lock, so the server's writes fail (4100) until unlocked. */
    async 'lc-server-lock'({ id }) {
      const entry = server(id);
      entry.lock = new Database(entry.env.DATABASE_URL.slice('sqlite:'.length));
      entry.lock.exec('BEGIN EXCLUSIVE');
      return true;
    },
    async 'lc-server-unlock'({ id }) {
      const entry = server(id);
      entry.lock?.exec('ROLLBACK');
      entry.lock?.close();
      entry.lock = undefined;
      return true;
    },
    async 'lc-token'(options) {
      return makeToken({ secret: TEST_JWT_SECRET, ...options });
    },
    /**
     * Screenshots the test page and compares it with test/browser/screenshots/NAME.png (made on
     * first run, or again with UPDATE_SCREENSHOTS=1). On a difference the actual picture and the
     * difference are left in build/screenshots/ to look at.
     */
    async 'lc-screenshot'({ name }, session) {
      const page = session.browser.getPage(session.id);
      const actual = PNG.sync.read(Buffer.from(await page.screenshot({ type: 'png' })));
      const baselinePath = join('test/browser/screenshots', `${name}.png`);
      if (!existsSync(baselinePath) || process.env.UPDATE_SCREENSHOTS === '1') {
        mkdirSync('test/browser/screenshots', { recursive: true });
        writeFileSync(baselinePath, PNG.sync.write(actual));
        return { created: true, differing: 0, total: actual.width * actual.height };
      }
      const baseline = PNG.sync.read(readFileSync(baselinePath));
      if (baseline.width !== actual.width || baseline.height !== actual.height) {
        return { created: false, differing: actual.width * actual.height, total: actual.width * actual.height, sizeMismatch: true };
      }
      const diff = new PNG({ width: actual.width, height: actual.height });
      const differing = pixelmatch(baseline.data, actual.data, diff.data, actual.width, actual.height, { threshold: 0.1 });
      if (differing) {
        mkdirSync('build/screenshots', { recursive: true });
        writeFileSync(join('build/screenshots', `${name}.actual.png`), PNG.sync.write(actual));
        writeFileSync(join('build/screenshots', `${name}.diff.png`), PNG.sync.write(diff));
      }
      return { created: false, differing, total: actual.width * actual.height };
    },
    /** Opens a page of the same browser context (same origin, IndexedDB, locks): another tab. */
    async 'lc-tab-open'({ path }, session) {
      const page = session.browser.getPage(session.id);
      const tab = await page.browserContext().newPage();
      tab.on('console', (message) => {
        if (message.type() === 'error') console.error(`[tab] ${message.text()}`);
      });
      await tab.goto(new URL(path, page.url()).href);
      const id = String(nextId++);
      tabs.set(id, tab);
      return id;
    },
    async 'lc-tab-eval'({ id, code }) {
      const tab = tabs.get(id);
      if (!tab) throw new Error(`no tab ${id}`);
      const value = await tab.evaluate(`(async () => { ${code} })()`);
      return { value: value ?? null };
    },
    async 'lc-tab-close'({ id }) {
      await tabs.get(id)?.close({ runBeforeUnload: false });
      tabs.delete(id);
      return true;
    },
  };

  return {
    name: 'live-chat-commands',
    async executeCommand({ command, payload, session }) {
      const run = commands[command];
      return run ? run(payload ?? {}, session) : undefined;
    },
    async serverStop() {
      for (const tab of tabs.values()) await tab.close().catch(() => undefined);
      for (const entry of servers.values()) {
        entry.lock?.close();
        await entry.process.stop().catch(() => undefined);
        await removeTempDir(entry.dir).catch(() => undefined);
      }
    },
  };
}
