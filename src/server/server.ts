import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloseCode } from '../protocol/index.js';
import { createTokenVerifier } from './auth/token-verifier.js';
import { isNewerClaim, type BusHandlers } from './bus/bus.js';
import { openBus } from './bus/open-bus.js';
import type { Config } from './config.js';
import { createRequestHandler } from './http/routes.js';
import { createUpgradeHandler } from './http/upgrade.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { createMemoryRateLimiter } from './rate-limit/memory-rate-limiter.js';
import type { RateLimiter } from './rate-limit/rate-limiter.js';
import { createRedisRateLimiter } from './rate-limit/redis-rate-limiter.js';
import { deliverLocally } from './session/frame-handlers.js';
import { startHeartbeat } from './session/heartbeat.js';
import type { Hub } from './session/hub.js';
import { Registry } from './session/registry.js';
import { MemoryTypingThrottle, type TypingThrottle } from './session/typing-throttle.js';
import { createRedisTypingThrottle } from './rate-limit/redis-typing-throttle.js';
import { openStore } from './store/open-store.js';

export interface RunningServer {
  /** http://HOST:PORT with the real port. */
  url: string;
  hub: Hub;
  /** Stops accepting, closes sockets with 1001, waits for stores in flight, closes the store. */
  close(): Promise<void>;
}

const SOCKET_CLOSE_GRACE_MS = 2000;

/** Wires the parts together: the one place that knows every implementation. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const store = await openStore(config, log);
  const inFlight = new Set<Promise<unknown>>();
  let hub: Hub | undefined;
  const handlers: BusHandlers = {
    event: (conversationId, event) => hub && deliverLocally(hub, conversationId, event),
    deviceClaim: (claim) => {
      const held = hub?.registry.deviceHolder(claim.user_id, claim.device_id);
      // An older claim than ours changes nothing: its instance closes its own connection when ours reaches it.
      if (held && held.connection.id !== claim.connection_id && isNewerClaim(claim, held.claim)) held.connection.close(CloseCode.REPLACED, 'replaced');
    },
    heldDevices: function* () {
      if (hub) for (const { claim } of hub.registry.deviceHolds()) yield claim;
    },
    resync: () => {
      if (!hub) return;
      for (const conversationId of hub.registry.conversations()) for (const member of hub.registry.members(conversationId)) member.catchUp(conversationId);
    },
  };
  let bus;
  try {
    bus = await openBus(config.redisUrl, handlers, log);
  } catch (error) {
    await store.close();
    throw error;
  }
  // With several instances the limit counts in Redis, across all of them.
  const rateLimiter: RateLimiter & { close?(): Promise<void> } = config.redisUrl
    ? createRedisRateLimiter(config.redisUrl, config.rateLimitPerMinute, config.rateLimitWindowMs, log)
    : createMemoryRateLimiter(config.rateLimitPerMinute, config.rateLimitWindowMs);
  const typingThrottle: TypingThrottle = config.redisUrl ? createRedisTypingThrottle(config.redisUrl, log) : new MemoryTypingThrottle();
  hub = {
    config,
    store,
    bus,
    rateLimiter,
    verifyToken: createTokenVerifier(config),
    metrics: createMetrics(),
    log,
    registry: new Registry(bus),
    typingThrottle,
    inflight: new Map(),
    track: <T>(work: Promise<T>) => {
      inFlight.add(work);
      const forget = () => inFlight.delete(work);
      work.then(forget, forget);
      return work;
    },
  };

  const http: Server = createServer(
    {
      // The protocol's handshake limit. Node checks it only every connectionsCheckingInterval
      // (30 s by default), which let a stalled upgrade live up to twice as long.
      headersTimeout: config.handshakeTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, config.handshakeTimeoutMs),
    },
    createRequestHandler(hub),
  );
  const upgrade = createUpgradeHandler(hub);
  http.on('upgrade', upgrade.handle);
  await new Promise<void>((resolve, reject) => {
    http.once('error', (error) => reject(new Error(`cannot listen on ${config.host} port ${config.port} (HOST, PORT): ${error.message}`, { cause: error })));
    http.listen(config.port, config.host, () => resolve());
  });
  const stopHeartbeat = startHeartbeat(hub);
  const { port } = http.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      stopHeartbeat();
      const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
      for (const connection of hub.registry.connections) connection.close(CloseCode.GOING_AWAY, 'server shutting down');
      await Promise.allSettled([...inFlight]);
      await waitForSockets(upgrade.wss.clients, SOCKET_CLOSE_GRACE_MS);
      http.closeAllConnections();
      await stopped;
      await bus.close().catch((error: unknown) => log.warn({ err: error }, 'closing the bus failed'));
      await rateLimiter.close?.().catch((error: unknown) => log.warn({ err: error }, 'closing the rate limiter failed'));
      await typingThrottle.close?.().catch((error: unknown) => log.warn({ err: error }, 'closing the typing throttle failed'));
      await store.close();
    })());

  return { url: `http://${host}:${port}`, hub, close };
}

/** Gives clients a moment to answer the close handshake, then cuts whatever is left. */
async function waitForSockets(clients: Set<import('ws').WebSocket>, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (clients.size && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  for (const socket of clients) socket.terminate();
}
