import type { Bus, BusHandlers } from './bus.js';

/**
 * The single-instance bus. The hub delivers to this instance's connections itself, so with no
 * other instances there is nothing to carry: publishing and device claims go nowhere.
 */
export function createMemoryBus(_handlers: BusHandlers): Promise<Bus> {
  return Promise.resolve({
    publish: async () => undefined,
    subscribe: async () => undefined,
    unsubscribe: async () => undefined,
    claimDevices: async () => undefined,
    healthy: () => true,
    close: async () => undefined,
  });
}
