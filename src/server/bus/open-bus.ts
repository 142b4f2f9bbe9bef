import type { Logger } from '../logger.js';
import type { Bus, BusHandlers } from './bus.js';
import { createMemoryBus } from './memory-bus.js';
import { createRedisBus } from './redis-bus.js';

/** The in-process bus, unless REDIS_URL asks for the one shared between instances (Redis pub/sub). */
export async function openBus(redisUrl: string | undefined, handlers: BusHandlers, log?: Logger): Promise<Bus> {
  if (redisUrl === undefined) return createMemoryBus(handlers);
  if (!log) throw new Error('the Redis bus needs a logger');
  return createRedisBus(redisUrl, handlers, log);
}
