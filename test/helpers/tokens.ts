// JWTs for the black-box server tests. The server verifies HS256 tokens with
// JWT_SECRET (test/helpers/server-process.ts passes TEST_JWT_SECRET), so every
// token here is signed with that secret unless a test asks for another one.
import { SignJWT } from 'jose';
import { TEST_JWT_SECRET } from './server-process.js';

export interface TokenOptions {
  /** The user id; omitted from the token when undefined. */
  sub?: string | undefined;
  /** 'user' | 'agent' or anything else for negative tests; omitted when undefined. */
  role?: string | undefined;
  /** Seconds from now until `exp` (negative: already expired); `null` leaves `exp` out. Default 3600. */
  expSeconds?: number | null;
  /** HMAC secret; default TEST_JWT_SECRET. */
  secret?: string;
  /** HMAC algorithm; default HS256. */
  alg?: 'HS256' | 'HS384' | 'HS512';
  iss?: string;
  aud?: string | string[];
  /** Extra claims, merged last (they may override the ones above). */
  extra?: Record<string, unknown>;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** A signed JWT. Resolves to the compact serialization. */
export async function makeToken(opts: TokenOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = {};
  if (opts.sub !== undefined) claims.sub = opts.sub;
  if (opts.role !== undefined) claims.role = opts.role;
  if (opts.iss !== undefined) claims.iss = opts.iss;
  if (opts.aud !== undefined) claims.aud = opts.aud;
  const exp = opts.expSeconds === null ? undefined : nowSeconds() + (opts.expSeconds ?? 3600);
  if (exp !== undefined) claims.exp = exp;
  Object.assign(claims, opts.extra ?? {});
  // iat never after exp, so an expired token is refused for being expired, not for an odd iat.
  const iat = exp === undefined ? nowSeconds() : Math.min(nowSeconds(), exp - 60);
  const jwt = new SignJWT({ iat, ...claims }).setProtectedHeader({ alg: opts.alg ?? 'HS256', typ: 'JWT' });
  return jwt.sign(new TextEncoder().encode(opts.secret ?? TEST_JWT_SECRET));
}

/** The `exp` claim of a token (no verification), for comparing with `expires_at`. */
export function expOf(token: string): number {
  const part = token.split('.')[1];
  if (part === undefined) throw new Error('not a JWT');
  const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { exp?: unknown };
  if (typeof claims.exp !== 'number') throw new Error('token has no exp');
  return claims.exp;
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/**
 * An `alg: none` token built by hand (jose refuses to make one): a header, the
 * claims, and an empty signature. Claims are otherwise perfectly valid.
 */
export function unsignedToken(opts: { sub?: string; role?: string; expSeconds?: number } = {}): string {
  const claims: Record<string, unknown> = {
    sub: opts.sub ?? 'unsigned-user',
    iat: nowSeconds(),
    exp: nowSeconds() + (opts.expSeconds ?? 3600),
  };
  if (opts.role !== undefined) claims.role = opts.role;
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
}

/** A correctly signed token whose `exp` passed an hour ago (far beyond any clock tolerance). */
export function expiredToken(sub = 'expired-user', role?: string): Promise<string> {
  return makeToken({ sub, role, expSeconds: -3600 });
}
