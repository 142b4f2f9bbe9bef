import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ID_PATTERN, type Role } from '../../protocol/index.js';
import type { Config } from '../config.js';

export interface Identity {
  userId: string;
  role: Role;
  expiresAt: Date;
}

/** 9999-12-31T23:59:59Z, the last second `expires_at` can be written as YYYY-MM-DDThh:mm:ssZ. */
const LAST_EXP = 253_402_300_799;

/** Why a token was refused; the connection is closed 4001 with it. */
export class AuthError extends Error {}

/** The JWKS could not be fetched and no key set was fetched before: no fault of the token (closed 4100, try again). */
export class KeysUnavailable extends Error {}

export type TokenVerifier = (token: string) => Promise<Identity>;

/**
 * HS256 tokens are checked against JWT_SECRET, ES256/RS256 tokens against the JWKS (such as
 * LINE's). The algorithm allow-list is what refuses `alg: none` and algorithm confusion.
 */
export function createTokenVerifier(config: Pick<Config, 'jwtSecret' | 'jwksUrl' | 'jwtIssuer' | 'jwtAudience' | 'jwksMaxAgeMs'>): TokenVerifier {
  const secret = config.jwtSecret === undefined ? undefined : new TextEncoder().encode(config.jwtSecret);
  const jwks = config.jwksUrl && keysFrom(config.jwksUrl, config.jwksMaxAgeMs);
  const claims = {
    requiredClaims: ['exp', 'sub'],
    ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
  };

  return async (token: string): Promise<Identity> => {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new AuthError('token is not a JWT');
    }
    let payload;
    try {
      if (alg === 'HS256' && secret) payload = (await jwtVerify(token, secret, { ...claims, algorithms: ['HS256'] })).payload;
      else if (alg !== 'HS256' && jwks) payload = (await jwtVerify(token, jwks, { ...claims, algorithms: ['ES256', 'RS256'] })).payload;
      else throw new AuthError(`tokens signed with ${String(alg).slice(0, 16)} are not accepted`);
    } catch (error) {
      if (error instanceof AuthError || error instanceof KeysUnavailable) throw error;
      if (error instanceof errors.JWTExpired) throw new AuthError('token expired');
      throw new AuthError(error instanceof errors.JOSEError ? `token refused: ${error.code}` : 'token refused');
    }
    const { sub, role = 'user', exp } = payload as { sub?: unknown; role?: unknown; exp?: unknown };
    if (typeof sub !== 'string' || !ID_PATTERN.test(sub)) throw new AuthError('token sub is not a valid user id');
    if (role !== 'user' && role !== 'agent') throw new AuthError('token role must be user or agent');
    if (typeof exp !== 'number') throw new AuthError('token has no exp');
    // Beyond year 9999 `expires_at` has no plain ISO 8601 form (and past JavaScript's dates, none at all).
    if (exp > LAST_EXP) throw new AuthError('token exp is past the year 9999');
    return { userId: sub, role, expiresAt: new Date(exp * 1000) };
  };
}

/**
 * The JWKS's keys, fetched again once older than `maxAgeMs`. An identity provider's outage must
 * not refuse its users: a key set that cannot be fetched again is used as it was last fetched,
 * and with none fetched yet the token is not refused but cannot be checked now.
 */
function keysFrom(url: URL, maxAgeMs: number): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(url, { cacheMaxAge: maxAgeMs });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      // The token's own fault: no key of its id, or several.
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      const known = remote.jwks();
      if (!known) throw new KeysUnavailable(`the JWKS could not be fetched: ${error instanceof Error ? error.message : String(error)}`);
      return createLocalJWKSet(known)(header, token);
    }
  };
}
