import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { redisOptions } from '../bus/redis-bus.js';
import type { Logger } from '../logger.js';
import { createMemoryRateLimiter } from './memory-rate-limiter.js';
import type { RateDecision, RateLimiter } from './rate-limiter.js';

export const RATE_KEY_PREFIX = 'live-chat:rate:';

/**
 * Sliding window in one atomic step, on Redis's clock (instances' clocks may differ): drop what
 * left the window, refuse when full (answering how long until the oldest leaves), else count this
 * message. Returns 0 when counted, else the wait in ms.
 */
const TAKE_SCRIPT = `
local key = KEYS[1]
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  local wait = tonumber(oldest[2]) + window - now
  if wait < 1 then wait = 1 end
  return wait
end
redis.call('ZADD', key, now, ARGV[3])
redis.call('PEXPIRE', key, window)
return 0
`;

type RateRedis = Redis & { rateTake(key: string, windowMs: number, limit: number, member: string): Promise<number> };

/** What this instance counted for a user, newest last, so a refund gives back the right one. */
interface Taken {
  /** The sorted-set member in Redis; undefined when counted by the fallback limiter. */
  member: string | undefined;
  at: number;
}

/**
 * The per-user limit across every instance: a sorted set per user in Redis (`live-chat:rate:{user}`),
 * members being the messages counted in the last window. While Redis does not answer, each
 * instance counts on its own (the memory limiter), as the protocol allows; sends never wait for
 * Redis (commands fail at once while disconnected, and time out after 1 s).
 */
export function createRedisRateLimiter(url: string, limit: number, windowMs: number, log: Logger): RateLimiter & { close(): Promise<void> } {
  const redis = new Redis(url, { ...redisOptions('live-chat-rate'), autoResendUnfulfilledCommands: false }) as RateRedis;
  redis.defineCommand('rateTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  redis.on('error', (error: Error) => log.debug({ err: error }, 'redis rate limiter error'));
  const fallback = createMemoryRateLimiter(limit, windowMs);
  const prefix = randomUUID();
  let counter = 0;
  let degraded = false;
  const taken = new Map<string, Taken[]>();

  const remember = (userId: string, member: string | undefined) => {
    const now = Date.now();
    const list = (taken.get(userId) ?? []).filter((t) => t.at > now - windowMs);
    list.push({ member, at: now });
    taken.set(userId, list);
  };

  return {
    async take(userId: string): Promise<RateDecision> {
      const member = `${prefix}:${++counter}`;
      try {
        if (redis.status !== 'ready') throw new Error(`redis is ${redis.status}`);
        const wait = Number(await redis.rateTake(RATE_KEY_PREFIX + userId, windowMs, limit, member));
        if (degraded) {
          degraded = false;
          log.info('rate limit counted in Redis again');
        }
        if (wait > 0) return { ok: false, retryAfterMs: wait };
        remember(userId, member);
        return { ok: true };
      } catch (error) {
        if (!degraded) {
          degraded = true;
          log.warn({ err: error }, 'rate limit falls back to counting on this instance while Redis does not answer');
        }
        const decision = await fallback.take(userId);
        if (decision.ok) remember(userId, undefined);
        return decision;
      }
    },
    async refund(userId: string): Promise<void> {
      const list = taken.get(userId);
      const last = list?.pop();
      if (list && !list.length) taken.delete(userId);
      if (!last) return;
      if (last.member === undefined) return fallback.refund(userId);
      try {
        if (redis.status !== 'ready') throw new Error(`redis is ${redis.status}`);
        await redis.zrem(RATE_KEY_PREFIX + userId, last.member);
      } catch (error) {
        log.debug({ err: error }, 'rate limit refund failed; the count expires with the window');
      }
    },
    async close(): Promise<void> {
      await redis.quit().catch(() => undefined);
      redis.disconnect();
    },
  };
}
