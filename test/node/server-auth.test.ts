// Black-box tests of authentication (PROTOCOL.md "Connection lifecycle"):
// the auth answer, every way a token is refused (close 4001, no auth answer),
// the auth deadline, expiry on an open connection, issuer/audience checks and
// device replacement (4009).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clientFrame, CloseCode } from '../../src/protocol/index.js';
import { startServer } from '../helpers/server-process.js';
import type { ServerProcess } from '../helpers/server-process.js';
import { expiredToken, expOf, makeToken, unsignedToken } from '../helpers/tokens.js';
import { closeAllClients, connect, connectAs, is, schemaViolations, sleep, uniqueId } from '../helpers/ws-client.js';
import type { TestClient } from '../helpers/ws-client.js';

const AUTH_TIMEOUT_MS = 800;

/** Sends `auth` with `token` and expects close 4001 with no `auth` answer. */
async function expectRefused(wsUrl: string, token: string, deviceId?: string): Promise<void> {
  const client = await connect(wsUrl);
  client.send(clientFrame('auth', deviceId === undefined ? { token } : { token, device_id: deviceId }));
  const { code } = await client.waitClosed(3_000);
  assert.equal(code, CloseCode.AUTH_FAILED, `close code for a refused token`);
  assert.equal(client.log.filter(is.type('auth')).length, 0, `no auth answer may be sent; got ${JSON.stringify(client.log)}`);
}

async function assertAlive(...clients: TestClient[]): Promise<void> {
  for (const c of clients) {
    assert.equal(c.isOpen, true, `connection unexpectedly closed: ${JSON.stringify(c.closeInfo)}`);
    await c.roundTrip();
  }
}

describe('server auth', () => {
  let server: ServerProcess;

  before(async () => {
    server = await startServer({ AUTH_TIMEOUT_MS: String(AUTH_TIMEOUT_MS) });
  });
  after(async () => {
    await closeAllClients();
    await server?.stop();
  });

  it('answers a valid auth with {success, user_id, role: "user", expires_at} when role is absent', async () => {
    const sub = uniqueId('alice');
    const token = await makeToken({ sub });
    const client = await connect(server.wsUrl);
    const answer = await client.auth(token);
    assert.equal(answer.type, 'auth', JSON.stringify(answer));
    assert.deepEqual(Object.keys(answer.payload).sort(), ['expires_at', 'role', 'success', 'user_id']);
    assert.equal(answer.payload.success, true);
    assert.equal(answer.payload.user_id, sub);
    assert.equal(answer.payload.role, 'user');
    assert.match(answer.payload.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal(Date.parse(answer.payload.expires_at), expOf(token) * 1000, 'expires_at is the token exp');
    assert.equal(typeof answer.timestamp, 'string');
    assert.ok(answer.timestamp?.endsWith('Z'), `envelope timestamp is ISO UTC: ${answer.timestamp}`);
    assert.deepEqual(client.invalid, [], 'every server frame matches the protocol schema');
    await assertAlive(client);
  });

  it('answers role "agent" for an agent token and "user" for an explicit user token', async () => {
    const agent = await connect(server.wsUrl);
    const a = await agent.auth(await makeToken({ sub: uniqueId('agent'), role: 'agent' }));
    assert.equal(a.type, 'auth');
    assert.equal(a.payload.role, 'agent');
    const user = await connect(server.wsUrl);
    const u = await user.auth(await makeToken({ sub: uniqueId('bob'), role: 'user' }));
    assert.equal(u.type, 'auth');
    assert.equal(u.payload.role, 'user');
  });

  it('closes 4001 without an auth answer when the first frame is join_room', async () => {
    const client = await connect(server.wsUrl);
    client.send(clientFrame('join_room', { conversation_id: 'someone' }));
    const { code } = await client.waitClosed(3_000);
    assert.equal(code, CloseCode.AUTH_FAILED);
    assert.equal(client.log.filter((f) => f.type === 'auth' || f.type === 'message_ack' || f.type === 'history').length, 0, JSON.stringify(client.log));
  });

  it('closes 4001 when the first frame is a ping (anything but auth)', async () => {
    const client = await connect(server.wsUrl);
    client.send(clientFrame('ping', {}));
    const { code } = await client.waitClosed(3_000);
    assert.equal(code, CloseCode.AUTH_FAILED);
    assert.equal(client.log.filter(is.type('auth')).length, 0);
  });

  it('refuses a token signed with another secret (bad signature)', async () => {
    await expectRefused(server.wsUrl, await makeToken({ sub: uniqueId(), secret: 'some-other-secret-that-is-long-enough-0123456789' }));
  });

  it('refuses an alg:none token', async () => {
    await expectRefused(server.wsUrl, unsignedToken({ sub: uniqueId() }));
    await expectRefused(server.wsUrl, unsignedToken({ sub: uniqueId(), role: 'agent' }));
  });

  it('refuses a token whose signature was tampered with', async () => {
    const token = await makeToken({ sub: uniqueId() });
    const [h, , s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'mallory', role: 'agent', exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url');
    await expectRefused(server.wsUrl, `${h}.${forged}.${s}`);
  });

  it('refuses an expired token', async () => {
    await expectRefused(server.wsUrl, await expiredToken(uniqueId()));
  });

  it('refuses a token without exp', async () => {
    await expectRefused(server.wsUrl, await makeToken({ sub: uniqueId(), expSeconds: null }));
  });

  it('refuses a token whose sub is not a valid id (or is missing)', async () => {
    await expectRefused(server.wsUrl, await makeToken({ sub: 'has space' }));
    await expectRefused(server.wsUrl, await makeToken({ sub: 'semi;colon' }));
    await expectRefused(server.wsUrl, await makeToken({ sub: '' }));
    await expectRefused(server.wsUrl, await makeToken({ sub: 'x'.repeat(129) }));
    await expectRefused(server.wsUrl, await makeToken({ sub: undefined }));
    await expectRefused(server.wsUrl, await makeToken({ sub: undefined, extra: { sub: 12345 } }));
  });

  it('accepts a sub of exactly 128 characters of the id charset', async () => {
    const sub = `A-z_0.9:@${'x'.repeat(119)}`;
    assert.equal(sub.length, 128);
    const client = await connect(server.wsUrl);
    const answer = await client.auth(await makeToken({ sub }));
    assert.equal(answer.type, 'auth');
    assert.equal(answer.payload.user_id, sub);
  });

  it('refuses a role other than user or agent', async () => {
    await expectRefused(server.wsUrl, await makeToken({ sub: uniqueId(), role: 'admin' }));
    await expectRefused(server.wsUrl, await makeToken({ sub: uniqueId(), role: 'Agent' }));
    await expectRefused(server.wsUrl, await makeToken({ sub: uniqueId(), extra: { role: 1 } }));
  });

  it('refuses a token that is not valid yet (nbf in the future)', async () => {
    await expectRefused(server.wsUrl, await makeToken({ sub: uniqueId(), extra: { nbf: Math.floor(Date.now() / 1000) + 3600 } }));
  });

  it('keeps a connection whose token expires far in the future (beyond a 32-bit timer delay)', async () => {
    // exp 40 days ahead: a naive setTimeout(exp - now) overflows (> 2^31 - 1 ms) and fires at once.
    const token = await makeToken({ sub: uniqueId(), expSeconds: 40 * 24 * 3600 });
    const client = await connect(server.wsUrl);
    const answer = await client.auth(token);
    assert.equal(answer.type, 'auth', JSON.stringify(answer));
    await sleep(300);
    await assertAlive(client);
  });

  it('refuses a token whose exp is past the year 9999 (no ISO 8601 expires_at exists for it); accepts the last second before', async () => {
    const at = (exp: number) => makeToken({ sub: uniqueId(), expSeconds: null, extra: { exp } });
    await expectRefused(server.wsUrl, await at(253_402_300_800));
    await expectRefused(server.wsUrl, await at(1e13)); // past JavaScript's dates: new Date() of it is invalid
    const client = await connect(server.wsUrl);
    const answer = await client.auth(await at(253_402_300_799));
    assert.equal(answer.type, 'auth', JSON.stringify(answer));
    assert.equal(answer.payload.expires_at, '9999-12-31T23:59:59.000Z');
  });

  it('refuses a token that is not a JWT at all', async () => {
    await expectRefused(server.wsUrl, 'not-a-jwt');
  });

  it('closes 4001 even when the token header would make an over-long close reason (an alg of 150 characters)', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'X'.repeat(150), typ: 'JWT' })).toString('base64url');
    const claims = Buffer.from(JSON.stringify({ sub: 'u1', exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url');
    await expectRefused(server.wsUrl, `${header}.${claims}.c2ln`);
  });

  it(`closes 4001 a connection that sends nothing within AUTH_TIMEOUT_MS (${AUTH_TIMEOUT_MS} ms)`, async () => {
    const started = Date.now();
    const client = await connect(server.wsUrl);
    const { code } = await client.waitClosed(AUTH_TIMEOUT_MS + 3_000);
    const elapsed = Date.now() - started;
    assert.equal(code, CloseCode.AUTH_FAILED);
    assert.ok(elapsed >= AUTH_TIMEOUT_MS - 100, `closed after ${elapsed} ms, before the ${AUTH_TIMEOUT_MS} ms deadline`);
    assert.equal(client.log.filter(is.type('auth')).length, 0);
  });

  it('does not close an authenticated connection at the auth deadline', async () => {
    const client = await connectAs(server.wsUrl, { sub: uniqueId() });
    await sleep(AUTH_TIMEOUT_MS + 400);
    await assertAlive(client);
  });

  it('closes 4001 with reason "token expired" when exp passes on an open connection', async () => {
    const token = await makeToken({ sub: uniqueId(), expSeconds: 2 });
    const expMs = expOf(token) * 1000;
    const client = await connect(server.wsUrl);
    const answer = await client.auth(token);
    assert.equal(answer.type, 'auth', 'the token is still valid when sent');
    assert.equal(Date.parse(answer.payload.expires_at), expMs);
    const { code, reason } = await client.waitClosed(expMs - Date.now() + 3_000);
    const closedAt = Date.now();
    assert.equal(code, CloseCode.AUTH_FAILED);
    assert.equal(reason, 'token expired');
    assert.ok(closedAt >= expMs - 500, `closed ${expMs - closedAt} ms before exp`);
  });

  describe('device replacement (4009)', () => {
    it('closes the older connection of the same user and device with 4009; the newer stays', async () => {
      const sub = uniqueId('dev');
      const device = uniqueId('device');
      const older = await connectAs(server.wsUrl, { sub, device_id: device });
      const newer = await connectAs(server.wsUrl, { sub, device_id: device });
      const { code } = await older.waitClosed(3_000);
      assert.equal(code, CloseCode.REPLACED);
      await assertAlive(newer);
    });

    it('replaces by order of completed authentication, not of connection', async () => {
      const sub = uniqueId('dev');
      const device = uniqueId('device');
      const first = await connect(server.wsUrl);
      const second = await connect(server.wsUrl);
      const [t1, t2] = await Promise.all([makeToken({ sub }), makeToken({ sub })]);
      assert.equal((await second.auth(t2, device)).type, 'auth');
      assert.equal((await first.auth(t1, device)).type, 'auth');
      const { code } = await second.waitClosed(3_000);
      assert.equal(code, CloseCode.REPLACED, 'the socket opened later but authenticated first is the older one');
      await assertAlive(first);
    });

    it('of several connections of one user and device authenticating at once, exactly one survives', async () => {
      const sub = uniqueId('race');
      const device = uniqueId('device');
      const clients = await Promise.all(Array.from({ length: 5 }, () => connect(server.wsUrl)));
      const tokens = await Promise.all(clients.map(() => makeToken({ sub })));
      const answers = await Promise.all(clients.map((c, i) => c.auth(tokens[i]!, device)));
      for (const a of answers) assert.equal(a.type, 'auth');
      await sleep(300);
      const open = clients.filter((c) => c.isOpen);
      assert.equal(open.length, 1, `open after the race: ${open.length}`);
      for (const c of clients.filter((x) => !x.isOpen)) assert.equal(c.closeInfo?.code, CloseCode.REPLACED);
      await assertAlive(open[0]!);
    });

    it('never replaces connections without a device_id', async () => {
      const sub = uniqueId('nodev');
      const a = await connectAs(server.wsUrl, { sub });
      const b = await connectAs(server.wsUrl, { sub });
      const c = await connectAs(server.wsUrl, { sub, device_id: uniqueId('device') });
      await sleep(200);
      await assertAlive(a, b, c);
    });

    it('keeps connections of different devices, and of different users on the same device_id', async () => {
      const sub = uniqueId('multi');
      const device = uniqueId('device');
      const a = await connectAs(server.wsUrl, { sub, device_id: device });
      const b = await connectAs(server.wsUrl, { sub, device_id: uniqueId('device') });
      const other = await connectAs(server.wsUrl, { sub: uniqueId('other'), device_id: device });
      await sleep(200);
      await assertAlive(a, b, other);
    });

    it('after a replacement the newer connection joins and sends normally', async () => {
      const sub = uniqueId('room');
      const device = uniqueId('device');
      const older = await connectAs(server.wsUrl, { sub, device_id: device });
      assert.equal((await older.join(sub)).ack.type, 'message_ack');
      const newer = await connectAs(server.wsUrl, { sub, device_id: device });
      assert.equal((await older.waitClosed(3_000)).code, CloseCode.REPLACED);
      assert.equal((await newer.join(sub)).ack.type, 'message_ack');
      const ack = await newer.sendMessage(sub, 'after replacement');
      assert.equal(ack.type, 'message_ack', JSON.stringify(ack));
      await newer.next(is.newMessage(sub));
    });
  });
});

describe('server auth with JWT_ISSUER and JWT_AUDIENCE', () => {
  const ISS = 'https://issuer.test.example';
  const AUD = 'live-chat-tests';
  let server: ServerProcess;

  before(async () => {
    server = await startServer({ JWT_ISSUER: ISS, JWT_AUDIENCE: AUD });
  });
  after(async () => {
    await closeAllClients();
    await server?.stop();
  });

  it('accepts a token with the configured issuer and audience', async () => {
    const sub = uniqueId();
    const client = await connect(server.wsUrl);
    const answer = await client.auth(await makeToken({ sub, iss: ISS, aud: AUD }));
    assert.equal(answer.type, 'auth', JSON.stringify(answer));
    assert.equal(answer.payload.user_id, sub);
  });

  it('refuses a wrong issuer', async () => {
    await expectRefused(server.wsUrl, await makeToken({ sub: uniqueId(), iss: 'https://evil.example', aud: AUD }));
  });

  it('refuses a wrong audience', async () => {
    await expectRefused(server.wsUrl, await makeToken({ sub: uniqueId(), iss: ISS, aud: 'someone-else' }));
  });

  it('refuses a token missing the required issuer or audience', async () => {
    await expectRefused(server.wsUrl, await makeToken({ sub: uniqueId(), aud: AUD }));
    await expectRefused(server.wsUrl, await makeToken({ sub: uniqueId(), iss: ISS }));
  });
});

describe('frames received in this file', () => {
  it('every server frame matched the protocol schemas (envelope with timestamp, exact payload fields)', () => {
    assert.deepEqual(schemaViolations(), []);
  });
});
