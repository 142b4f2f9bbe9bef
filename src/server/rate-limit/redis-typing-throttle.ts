import { Redis } from 'ioredis';
import { TYPING_THROTTLE_MS } from '../../protocol/index.js';
import { redisOptions } from '../bus/redis-bus.js';
import type { Logger } from '../logger.js';
import { MemoryTypingThrottle, type TypingThrottle } from '../session/typing-throttle.js';

export const TYPING_KEY_PREFIX = 'live-chat:typing:';

/**
 * The typing throttle across every instance: the first `is_typing: true` of a user in a
 * conversation sets a key that lives one window (SET NX PX); the others within it find it set.
 * While Redis does not answer, each instance throttles on its own.
 */
export function createRedisTypingThrottle(url: string, log: Logger, windowMs = TYPING_THROTTLE_MS): TypingThrottle {
  const redis = new Redis(url, { ...redisOptions('live-chat-typing'), autoResendUnfulfilledCommands: false });
  redis.on('error', (error: Error) => log.debug({ err: error }, 'redis typing throttle error'));
  const fallback = new MemoryTypingThrottle(windowMs);
  return {
    async allowTrue(userId: string, conversationId: string): Promise<boolean> {
      try {
        return (await redis.set(`${TYPING_KEY_PREFIX}${userId}\u0000${conversationId}`, '1', 'PX', windowMs, 'NX')) === 'OK';
      } catch {
        return fallback.allowTrue(userId, conversationId);
      }
    },
    async close(): Promise<void> {
      redis.disconnect();
    },
  };
}
