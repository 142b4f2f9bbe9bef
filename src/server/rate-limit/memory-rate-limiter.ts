import type { RateDecision, RateLimiter } from './rate-limiter.js';

/** Sliding-window limiter for one instance: the times of each user's counted messages. */
export function createMemoryRateLimiter(limit: number, windowMs: number, now: () => number = Date.now): RateLimiter {
  const sent = new Map<string, number[]>();

  const recent = (userId: string): number[] => {
    const cutoff = now() - windowMs;
    const times = (sent.get(userId) ?? []).filter((t) => t > cutoff);
    if (times.length) sent.set(userId, times);
    else sent.delete(userId);
    return times;
  };

  return {
    async take(userId: string): Promise<RateDecision> {
      const times = recent(userId);
      if (times.length >= limit) return { ok: false, retryAfterMs: Math.max(1, times[0]! + windowMs - now()) };
      times.push(now());
      sent.set(userId, times);
      return { ok: true };
    },
    async refund(userId: string): Promise<void> {
      const times = recent(userId);
      times.pop();
      if (!times.length) sent.delete(userId);
    },
  };
}
