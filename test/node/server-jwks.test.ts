// Tokens signed with asymmetric keys and checked against a JWKS (as LINE's are), served here
// by a real HTTP server on loopback; HS256 stays available beside it when JWT_SECRET is set.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { makeToken } from '../helpers/tokens.js';
import { closeAllClients, connect, uniqueId, type CloseInfo, type Frame } from '../helpers/ws-client.js';

const ISSUER = 'https://access.line.me';
const AUDIENCE = '1657000000';

interface Signer {
  alg: 'ES256' | 'RS256';
  kid: string;
  privateKey: CryptoKey;
}

async function signer(alg: Signer['alg'], kid: string): Promise<{ signer: Signer; jwk: object }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { signer: { alg, kid, privateKey }, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

function sign(s: Signer, claims: Record<string, unknown>, opts: { iss?: string; aud?: string; expSeconds?: number } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: s.alg, kid: s.kid })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expSeconds ?? 3600))
    .sign(s.privateKey);
}

describe('server JWKS tokens (ES256, RS256)', () => {
  let jwksServer: Server;
  let jwksHits = 0;
  /** Makes the JWKS endpoint answer slowly, as a far-away identity provider would. */
  let jwksDelayMs = 0;
  /** Makes the JWKS endpoint fail (503), as an identity provider's outage would. */
  let jwksDown = false;
  let jwksUrl: string;
  let slowJwks: ServerProcess;
  let es: Signer;
  let rs: Signer;
  let stranger: Signer;
  let jwksOnly: ServerProcess;
  let both: ServerProcess;

  before(async () => {
    const a = await signer('ES256', 'es-1');
    const b = await signer('RS256', 'rs-1');
    es = a.signer;
    rs = b.signer;
    stranger = (await signer('ES256', 'es-1')).signer; // same kid, a key the JWKS does not hold
    const body = JSON.stringify({ keys: [a.jwk, b.jwk] });
    jwksServer = createServer((req, res) => {
      jwksHits++;
      if (req.url !== '/jwks.json') return void res.writeHead(404).end();
      if (jwksDown) return void res.writeHead(503).end();
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(body), jwksDelayMs);
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    jwksOnly = await startServer({ JWT_SECRET: '', JWT_JWKS_URL: jwksUrl, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    both = await startServer({ JWT_JWKS_URL: jwksUrl, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    slowJwks = await startServer({ JWT_SECRET: '', JWT_JWKS_URL: jwksUrl, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, AUTH_TIMEOUT_MS: '400' });
  });
  after(async () => {
    await closeAllClients();
    await Promise.all([jwksOnly?.stop(), both?.stop(), slowJwks?.stop()]);
    await new Promise((resolve) => jwksServer?.close(resolve));
  });

  /** Sends `auth` with the token; resolves with the auth answer, or the close when refused. */
  async function tryAuth(server: ServerProcess, token: string): Promise<{ frame: Frame } | { close: CloseInfo }> {
    const client = await connect(server.wsUrl);
    try {
      return { frame: await client.auth(token) };
    } catch {
      return { close: await client.closed };
    }
  }

  it('accepts ES256 and RS256 tokens whose keys the JWKS holds, with sub and role from the token', async () => {
    const user = uniqueId('U');
    const first = await tryAuth(jwksOnly, await sign(es, { sub: user }));
    assert.ok('frame' in first, JSON.stringify(first));
    assert.deepEqual({ user_id: first.frame.payload.user_id, role: first.frame.payload.role }, { user_id: user, role: 'user' });
    const second = await tryAuth(jwksOnly, await sign(rs, { sub: 'agent-7', role: 'agent' }));
    assert.ok('frame' in second, JSON.stringify(second));
    assert.equal(second.frame.payload.role, 'agent');
    assert.ok(jwksHits >= 1, 'the keys came from the JWKS endpoint');
  });

  it('closes 4001 for a key the JWKS does not hold, a wrong issuer or audience, or an expired token', async () => {
    const refused = [
      await sign(stranger, { sub: 'U1' }),
      await sign(es, { sub: 'U1' }, { iss: 'https://evil.example' }),
      await sign(es, { sub: 'U1' }, { aud: 'another-channel' }),
      await sign(rs, { sub: 'U1' }, { expSeconds: -60 }),
    ];
    for (const token of refused) {
      const result = await tryAuth(jwksOnly, token);
      assert.ok('close' in result, `expected a close, got ${JSON.stringify(result)}`);
      assert.equal(result.close.code, 4001);
    }
  });

  it('refuses HS256 tokens when no JWT_SECRET is set (no algorithm confusion)', async () => {
    const result = await tryAuth(jwksOnly, await makeToken({ sub: 'U1', iss: ISSUER, aud: AUDIENCE }));
    assert.ok('close' in result);
    assert.equal(result.close.code, 4001);
  });

  it('with both JWT_SECRET and JWT_JWKS_URL, takes HS256 tokens and JWKS tokens alike', async () => {
    const hs = await tryAuth(both, await makeToken({ sub: 'U-hs', iss: ISSUER, aud: AUDIENCE }));
    assert.ok('frame' in hs, JSON.stringify(hs));
    const ec = await tryAuth(both, await sign(es, { sub: 'U-es' }));
    assert.ok('frame' in ec, JSON.stringify(ec));
  });

  it('a JWKS that cannot be reached before any key was fetched closes 4100 (try again later), not 4001 (stop); once it is back, tokens pass', async () => {
    const cold = await startServer({ JWT_SECRET: '', JWT_JWKS_URL: jwksUrl, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    try {
      jwksDown = true;
      const result = await tryAuth(cold, await sign(es, { sub: 'U-cold' }));
      assert.ok('close' in result, JSON.stringify(result));
      assert.equal(result.close.code, 4100);
      jwksDown = false;
      const again = await tryAuth(cold, await sign(es, { sub: 'U-cold' }));
      assert.ok('frame' in again, JSON.stringify(again));
    } finally {
      jwksDown = false;
      await cold.stop();
    }
  });

  it('keys fetched before keep checking tokens while the JWKS is down, past their max age; a key it never had still closes 4001', async () => {
    const stale = await startServer({ JWT_SECRET: '', JWT_JWKS_URL: jwksUrl, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWKS_MAX_AGE_MS: '100' });
    try {
      const first = await tryAuth(stale, await sign(es, { sub: 'U-stale' }));
      assert.ok('frame' in first, JSON.stringify(first));
      jwksDown = true;
      await new Promise((resolve) => setTimeout(resolve, 300));
      const later = await tryAuth(stale, await sign(rs, { sub: 'U-stale' }));
      assert.ok('frame' in later, JSON.stringify(later));
      const unknown = await tryAuth(stale, await sign(stranger, { sub: 'U-stale' }));
      assert.ok('close' in unknown, JSON.stringify(unknown));
      assert.equal(unknown.close.code, 4001);
    } finally {
      jwksDown = false;
      await stale.stop();
    }
  });

  it('the auth deadline is for the first frame: a verification slower than it (a slow JWKS) still succeeds', async () => {
    jwksDelayMs = 1200;
    try {
      const result = await tryAuth(slowJwks, await sign(es, { sub: 'U-slow' }));
      assert.ok('frame' in result, JSON.stringify(result));
    } finally {
      jwksDelayMs = 0;
    }
  });
});

