import type { Logger } from 'pino';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { Bus } from '../bus/bus.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { RateLimiter } from '../rate-limit/rate-limiter.js';
import type { AppendResult, Store } from '../store/store.js';
import type { Registry } from './registry.js';
import type { TypingThrottle } from './typing-throttle.js';

/** How the first attempt at a send ended: stored (or found stored), or refused by the rate limit. */
export type SendAttempt = { result: AppendResult } | { retryAfterMs: number };

/** What every connection's handlers share on one instance: wired once, in server.ts. */
export interface Hub {
  config: Config;
  store: Store;
  bus: Bus;
  rateLimiter: RateLimiter;
  verifyToken: TokenVerifier;
  metrics: Metrics;
  log: Logger;
  registry: Registry;
  typingThrottle: TypingThrottle;
  /** Sends being handled on this instance, by sender and message_id: a retry that arrives meanwhile waits for the first. */
  inflight: Map<string, Promise<SendAttempt>>;
  /** Work the shutdown waits for (stores in flight). */
  track<T>(work: Promise<T>): Promise<T>;
}
