// Black-box tests of the server's HTTP side and configuration: /healthz, /metrics, the
// Origin allow-list on upgrade, the demo token endpoint, and refusal of bad configuration.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloseCode } from '../../src/protocol/index.js';
import { findRepoRoot, startServer, TEST_JWT_SECRET } from '../helpers/server-process.js';
import type { ServerProcess } from '../helpers/server-process.js';
import { trackChild } from '../helpers/cleanup.js';
import { closeAllClients, connect, connectAs, schemaViolations, uniqueId, upgradeStatus } from '../helpers/ws-client.js';

/** The upgrade's HTTP status, or 0 when the server dropped the socket without an HTTP answer. */
async function upgradeOutcome(wsUrl: string, origin?: string): Promise<number> {
  try {
    return await upgradeStatus(wsUrl, origin);
  } catch {
    return 0;
  }
}

describe('server HTTP endpoints', () => {
  let server: ServerProcess;

  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await closeAllClients();
    await server?.stop();
  });

  it('GET /healthz answers 200 {"ok":true}', async () => {
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await res.json(), { ok: true });
  });

  it('GET /metrics answers Prometheus text with live_chat_ metrics', async () => {
    const user = await connectAs(server.wsUrl, { sub: uniqueId() });
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const body = await res.text();
    assert.match(body, /live_chat_/);
    assert.match(body, /^live_chat_\w+(\{[^}]*\})? -?[0-9.eE+-]+$/m, 'at least one sample line');
    assert.match(body, /^# TYPE live_chat_\w+ (counter|gauge|histogram|summary)$/m);
    await user.close();
  });

  it('answers 404 for an unknown path', async () => {
    const res = await fetch(`${server.url}/no-such-page`);
    assert.equal(res.status, 404);
    await res.body?.cancel();
  });

  it('does not serve /demo/token unless DEMO=1 (404)', async () => {
    const res = await fetch(`${server.url}/demo/token?sub=alice&role=user`);
    assert.equal(res.status, 404);
    await res.body?.cancel();
  });

  it('upgrades only at /ws/chat', async () => {
    assert.equal(await upgradeOutcome(server.wsUrl), 101);
    assert.notEqual(await upgradeOutcome(server.wsUrl.replace('/ws/chat', '/ws/other')), 101);
    assert.notEqual(await upgradeOutcome(server.wsUrl.replace('/ws/chat', '/')), 101);
  });

  it('without ALLOWED_ORIGINS allows every Origin', async () => {
    assert.equal(await upgradeOutcome(server.wsUrl, 'https://anything.example'), 101);
    const client = await connectAs(server.wsUrl, { sub: uniqueId(), origin: 'https://anything.example' });
    await client.roundTrip();
  });
});

describe('server Origin allow-list (ALLOWED_ORIGINS)', () => {
  let server: ServerProcess;

  before(async () => {
    server = await startServer({ ALLOWED_ORIGINS: 'https://allowed.example,https://also.example:8443' });
  });
  after(async () => {
    await closeAllClients();
    await server?.stop();
  });

  it('refuses an upgrade from an Origin not on the list with HTTP 403', async () => {
    assert.equal(await upgradeOutcome(server.wsUrl, 'https://evil.example'), 403);
    assert.equal(await upgradeOutcome(server.wsUrl, 'http://allowed.example'), 403, 'scheme matters');
    assert.equal(await upgradeOutcome(server.wsUrl, 'https://allowed.example.evil.example'), 403, 'no prefix match');
    assert.equal(await upgradeOutcome(server.wsUrl, 'https://also.example'), 403, 'port matters');
    assert.equal(await upgradeOutcome(server.wsUrl, 'null'), 403);
  });

  it('allows listed Origins, which then authenticate normally', async () => {
    assert.equal(await upgradeOutcome(server.wsUrl, 'https://allowed.example'), 101);
    assert.equal(await upgradeOutcome(server.wsUrl, 'https://also.example:8443'), 101);
    const client = await connectAs(server.wsUrl, { sub: uniqueId(), origin: 'https://allowed.example' });
    await client.roundTrip();
  });

  it('allows an upgrade without an Origin header (a non-browser client)', async () => {
    assert.equal(await upgradeOutcome(server.wsUrl), 101);
    const client = await connectAs(server.wsUrl, { sub: uniqueId() });
    await client.roundTrip();
  });
});

describe('server demo tokens (DEMO=1)', () => {
  let server: ServerProcess;

  before(async () => {
    server = await startServer({ DEMO: '1' });
  });
  after(async () => {
    await closeAllClients();
    await server?.stop();
  });

  async function demoToken(sub: string, role: string): Promise<string> {
    const res = await fetch(`${server.url}/demo/token?sub=${encodeURIComponent(sub)}&role=${role}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const body = (await res.json()) as { token?: unknown };
    assert.equal(typeof body.token, 'string');
    return body.token as string;
  }

  it('GET /demo/token returns a user token valid for one hour that authenticates', async () => {
    const sub = uniqueId('demo');
    const token = await demoToken(sub, 'user');
    const client = await connect(server.wsUrl);
    const answer = await client.auth(token);
    assert.equal(answer.type, 'auth', JSON.stringify(answer));
    assert.equal(answer.payload.user_id, sub);
    assert.equal(answer.payload.role, 'user');
    const ttl = Date.parse(answer.payload.expires_at) - Date.now();
    assert.ok(ttl > 3_500_000 && ttl <= 3_601_000, `expires in ${ttl} ms, not about an hour`);
  });

  it('GET /demo/token with role=agent returns an agent token', async () => {
    const sub = uniqueId('demo-agent');
    const client = await connect(server.wsUrl);
    const answer = await client.auth(await demoToken(sub, 'agent'));
    assert.equal(answer.type, 'auth');
    assert.equal(answer.payload.role, 'agent');
    assert.equal((await client.join(uniqueId('any'))).ack.type, 'message_ack', 'an agent may join any conversation');
  });

  it('demo tokens are real tokens: a tampered one is refused with 4001', async () => {
    const token = await demoToken(uniqueId('demo'), 'user');
    const client = await connect(server.wsUrl);
    client.sendRaw(JSON.stringify({ type: 'auth', payload: { token: `${token.slice(0, -2)}xx` }, timestamp: new Date().toISOString() }));
    assert.equal((await client.waitClosed(3_000)).code, CloseCode.AUTH_FAILED);
  });
});

describe('server configuration errors', () => {
  /** Runs the server with `env` (undefined deletes a variable) and resolves with its exit code and stderr. */
  function runServer(env: Record<string, string | undefined>): Promise<{ code: number | null; stderr: string; stdout: string }> {
    const full: Record<string, string | undefined> = { ...process.env };
    for (const name of Object.keys(full)) {
      if (/^(PORT|HOST|JWT_|DATABASE_URL|ALLOWED_ORIGINS|AUTH_TIMEOUT_MS|HANDSHAKE_TIMEOUT_MS|PING_INTERVAL_MS|IDLE_TIMEOUT_MS|RATE_LIMIT_PER_MINUTE|DEMO|REDIS)/.test(name)) delete full[name];
    }
    Object.assign(full, { PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_JWT_SECRET, DATABASE_URL: 'sqlite::memory:' }, env);
    for (const [k, v] of Object.entries(full)) if (v === undefined) delete full[k];
    const root = findRepoRoot();
    const child = spawn(process.execPath, [join(root, 'dist/node/server/main.js')], { cwd: root, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr, stdout });
      });
    });
  }

  const cases: [string, Record<string, string | undefined>, RegExp][] = [
    ['PORT=abc', { PORT: 'abc' }, /PORT/],
    ['PORT=70000', { PORT: '70000' }, /PORT/],
    ['neither JWT_SECRET nor JWT_JWKS_URL', { JWT_SECRET: undefined }, /JWT_SECRET|JWT_JWKS_URL/],
    ['AUTH_TIMEOUT_MS=soon', { AUTH_TIMEOUT_MS: 'soon' }, /AUTH_TIMEOUT_MS/],
    ['RATE_LIMIT_PER_MINUTE=-1', { RATE_LIMIT_PER_MINUTE: '-1' }, /RATE_LIMIT_PER_MINUTE/],
    ['IDLE_TIMEOUT_MS=1min', { IDLE_TIMEOUT_MS: '1min' }, /IDLE_TIMEOUT_MS/],
    ['HANDSHAKE_TIMEOUT_MS=300001 (over Node\'s request timeout)', { HANDSHAKE_TIMEOUT_MS: '300001' }, /HANDSHAKE_TIMEOUT_MS must be a whole number from 1 to 300000/],
    ['DATABASE_URL=mysql://localhost/chat', { DATABASE_URL: 'mysql://localhost/chat' }, /DATABASE_URL/],
    ['LOG_LEVEL=verbose', { LOG_LEVEL: 'verbose' }, /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"/],
    ['REDIS_URL=redis:// (no host: not quietly localhost)', { REDIS_URL: 'redis://', DATABASE_URL: 'postgres://x@127.0.0.1:1/db' }, /REDIS_URL must name a host/],
    ['ALLOWED_ORIGINS=, (an empty list would refuse everyone)', { ALLOWED_ORIGINS: ',' }, /ALLOWED_ORIGINS must list origins/],
    ['ALLOWED_ORIGINS with a path', { ALLOWED_ORIGINS: 'https://ok.example,https://shop.example/' }, /ALLOWED_ORIGINS entries must be origins .*"https:\/\/shop\.example\/"; did you mean https:\/\/shop\.example\?/],
    ['ALLOWED_ORIGINS in upper case', { ALLOWED_ORIGINS: 'HTTPS://Shop.Example' }, /did you mean https:\/\/shop\.example\?/],
    ['ALLOWED_ORIGINS without a scheme', { ALLOWED_ORIGINS: 'shop.example' }, /ALLOWED_ORIGINS entries must be origins .*"shop\.example"/],
    ['HOST not on this machine', { HOST: '192.0.2.1' }, /could not start: cannot listen on 192\.0\.2\.1 port 0 \(HOST, PORT\)/],
  ];

  for (const [label, env, named] of cases) {
    it(`${label}: exits 1 naming the variable on stderr`, async () => {
      const { code, stderr, stdout } = await runServer(env);
      assert.equal(code, 1, `exit code; stderr: ${stderr}`);
      assert.match(stderr, named);
      assert.doesNotMatch(stdout, /listening on/);
    });
  }

  it('a port in use: exits 1 naming PORT on stderr, even with LOG_LEVEL=silent', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as { port: number };
      const { code, stderr } = await runServer({ PORT: String(port), LOG_LEVEL: 'silent' });
      assert.equal(code, 1, stderr);
      assert.match(stderr, new RegExp(`^live-chat: could not start: cannot listen on 127\\.0\\.0\\.1 port ${port} \\(HOST, PORT\\): .*EADDRINUSE`, 'm'));
    } finally {
      taken.close();
    }
  });

  it('an SQLite file that cannot be opened: exits 1 naming DATABASE_URL and the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'live-chat-dir-'));
    try {
      const { code, stderr } = await runServer({ DATABASE_URL: `sqlite:${dir}`, LOG_LEVEL: 'silent' });
      assert.equal(code, 1, stderr);
      assert.ok(stderr.includes(`live-chat: could not start: SQLite at ${dir} (DATABASE_URL): `), stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('frames received in this file', () => {
  it('every server frame matched the protocol schemas (envelope with timestamp, exact payload fields)', () => {
    assert.deepEqual(schemaViolations(), []);
  });
});
