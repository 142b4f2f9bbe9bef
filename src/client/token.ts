import type { Role } from '../protocol/index.js';
import type { ClientError, TokenProvider } from './types.js';

export interface TokenClaims {
  sub: string;
  role: Role;
}

/**
 * Reads `sub` and `role` from a JWT without verifying it (the server does that): the client
 * needs them to know which messages are its own and which conversation to join.
 */
export function readClaims(token: string): TokenClaims {
  const part = token.split('.')[1];
  if (!part) throw new Error('token is not a JWT');
  const binary = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
  const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  const claims = JSON.parse(json) as { sub?: unknown; role?: unknown };
  if (typeof claims.sub !== 'string') throw new Error('token has no sub');
  return { sub: claims.sub, role: claims.role === 'agent' ? 'agent' : 'user' };
}

/**
 * Thrown by a token provider (or an empty answer given) to say there is no token to be had: the
 * session is over, and the client stops in `auth-failed`. Any other failure of the provider is
 * taken as a failure to reach its server, and tried again as a connection is.
 */
export class NoToken extends Error {}

/** What the page hears of a provider that failed (and is asked again): its own words. */
export const providerFailed = (error: unknown): ClientError => ({ code: 0, message: `the token provider failed: ${error instanceof Error ? error.message : String(error)}` });

/** The current token, and a fresh one from the provider when the server refuses it (at most once in a row). */
export class TokenSource {
  private current: string | undefined;

  constructor(
    token: string | undefined,
    private readonly provider: TokenProvider | undefined,
  ) {
    this.current = token;
  }

  get canRefresh(): boolean {
    return this.provider !== undefined;
  }

  async get(): Promise<string> {
    this.current ??= await this.fetch();
    return this.current;
  }

  async refresh(): Promise<string> {
    this.current = await this.fetch();
    return this.current;
  }

  private async fetch(): Promise<string> {
    if (!this.provider) throw new NoToken('no token and no token provider');
    const token = await this.provider();
    if (typeof token !== 'string' || !token) throw new NoToken('the token provider returned no token');
    return token;
  }
}
