/** Server configuration, read from the environment once at start and checked there. */
import { AUTH_TIMEOUT_MS, HANDSHAKE_TIMEOUT_MS, RATE_LIMIT_PER_MINUTE, RATE_LIMIT_WINDOW_MS, SERVER_IDLE_TIMEOUT_MS, SERVER_PING_AFTER_MS } from '../protocol/index.js';

export interface Config {
  port: number;
  host: string;
  jwtSecret: string | undefined;
  jwksUrl: URL | undefined;
  jwtIssuer: string | undefined;
  jwtAudience: string | undefined;
  /** After this long the JWKS is fetched again before a token is checked (a key set that cannot be fetched then is used as it was). */
  jwksMaxAgeMs: number;
  databaseUrl: string;
  /** Connections each instance keeps to PostgreSQL (ignored for SQLite). */
  databasePoolSize: number;
  redisUrl: string | undefined;
  allowedOrigins: ReadonlySet<string> | undefined;
  handshakeTimeoutMs: number;
  authTimeoutMs: number;
  pingIntervalMs: number;
  idleTimeoutMs: number;
  rateLimitPerMinute: number;
  /** The rate limit's window: the protocol's 60 s, shorter only so tests need not wait a minute. */
  rateLimitWindowMs: number;
  demo: boolean;
  /**
   * How long an SQLite write waits for a lock another process holds before it fails (4100).
   * better-sqlite3 waits synchronously, stalling every connection meanwhile: keep it short.
   */
  sqliteBusyTimeoutMs: number;
  logLevel: string;
}

/** A bad setting: the message names the variable, and main exits 1 with it. */
export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const jwtSecret = optional(env, 'JWT_SECRET');
  const jwksUrl = url(env, 'JWT_JWKS_URL', ['http:', 'https:']);
  if (!jwtSecret && !jwksUrl) throw new ConfigError('JWT_SECRET or JWT_JWKS_URL must be set: the server cannot verify tokens without one');
  const databaseUrl = optional(env, 'DATABASE_URL') ?? 'sqlite:./data/live-chat.db';
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(databaseUrl)) {
    throw new ConfigError(`DATABASE_URL must be sqlite:PATH, sqlite::memory: or postgres://…, got ${JSON.stringify(databaseUrl)}`);
  }
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:'])?.href;
  // The client would quietly take localhost for a URL without a host, and use a Redis that happens to run there.
  if (redisUrl !== undefined && !new URL(redisUrl).hostname) throw new ConfigError(`REDIS_URL must name a host (redis://HOST:PORT), got ${JSON.stringify(env['REDIS_URL']?.trim())}`);
  if (redisUrl !== undefined && databaseUrl.startsWith('sqlite:')) {
    // An instance cannot know whether others run, and instances on SQLite never share a store:
    // each would hand out its own seq 1, 2, 3 for the same conversation.
    throw new ConfigError(
      'REDIS_URL is set (several instances) but DATABASE_URL is SQLite: instances would not share a store. Set DATABASE_URL=postgres://… for several instances, or unset REDIS_URL to run one instance on SQLite',
    );
  }
  const idleTimeoutMs = integer(env, 'IDLE_TIMEOUT_MS', SERVER_IDLE_TIMEOUT_MS, 1);
  const pingIntervalMs = integer(env, 'PING_INTERVAL_MS', SERVER_PING_AFTER_MS, 1);
  if (pingIntervalMs >= idleTimeoutMs) throw new ConfigError('PING_INTERVAL_MS must be smaller than IDLE_TIMEOUT_MS, or idle clients are closed before they are pinged');
  const logLevel = optional(env, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  return {
    port: integer(env, 'PORT', 8080, 0, 65_535),
    host: optional(env, 'HOST') ?? '127.0.0.1',
    jwtSecret,
    jwksUrl,
    jwtIssuer: optional(env, 'JWT_ISSUER'),
    jwtAudience: optional(env, 'JWT_AUDIENCE'),
    jwksMaxAgeMs: integer(env, 'JWKS_MAX_AGE_MS', 600_000, 0),
    databaseUrl,
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000),
    redisUrl,
    allowedOrigins: origins(env),
    // Node refuses a headers timeout above its request timeout (300 s by default).
    handshakeTimeoutMs: integer(env, 'HANDSHAKE_TIMEOUT_MS', HANDSHAKE_TIMEOUT_MS, 1, 300_000),
    authTimeoutMs: integer(env, 'AUTH_TIMEOUT_MS', AUTH_TIMEOUT_MS, 1),
    pingIntervalMs,
    idleTimeoutMs,
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', RATE_LIMIT_PER_MINUTE, 1),
    rateLimitWindowMs: integer(env, 'RATE_LIMIT_WINDOW_MS', RATE_LIMIT_WINDOW_MS, 1),
    demo: flag(env, 'DEMO'),
    sqliteBusyTimeoutMs: integer(env, 'SQLITE_BUSY_TIMEOUT_MS', 1000, 0),
    logLevel,
  };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Browsers send the Origin header as scheme://host[:port], lower case, no path: an entry written any other
 * way would match nothing and refuse every visitor, so it is refused at start instead.
 */
function origins(env: Env): ReadonlySet<string> | undefined {
  const raw = optional(env, 'ALLOWED_ORIGINS');
  if (raw === undefined) return undefined;
  const entries = raw.split(',').map((o) => o.trim()).filter(Boolean);
  if (!entries.length) throw new ConfigError(`ALLOWED_ORIGINS must list origins such as https://shop.example, got ${JSON.stringify(raw)}`);
  for (const entry of entries) {
    let origin: string | undefined;
    try {
      origin = new URL(entry).origin;
    } catch {
      origin = undefined;
    }
    if (origin !== entry) {
      throw new ConfigError(`ALLOWED_ORIGINS entries must be origins as browsers send them (scheme://host[:port], lower case, no path), got ${JSON.stringify(entry)}${origin && origin !== 'null' ? `; did you mean ${origin}?` : ''}`);
    }
  }
  return new Set(entries);
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function integer(env: Env, name: string, fallback: number, min: number, max = 2_147_483_647): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function flag(env: Env, name: string): boolean {
  const raw = optional(env, name);
  if (raw === undefined || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new ConfigError(`${name} must be 1 or 0, got ${JSON.stringify(raw)}`);
}

function url(env: Env, name: string, protocols: string[]): URL | undefined {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL, got ${JSON.stringify(raw)}`);
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(`${name} must start with ${protocols.join(' or ')}, got ${JSON.stringify(raw)}`);
  return parsed;
}
