import { ConfigError } from '../config.js';
import type { Bus, BusHandlers } from './bus.js';
import { createMemoryBus } from './memory-bus.js';

/** The in-process bus, unless REDIS_URL asks for the one shared between instances. */
export async function openBus(redisUrl: string | undefined, handlers: BusHandlers): Promise<Bus> {
  if (redisUrl === undefined) return createMemoryBus(handlers);
  throw new ConfigError('REDIS_URL: the Redis bus is not supported by this build');
}
