import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';
import type { Bus, BusHandlers, DeviceClaim, RoomEvent } from './bus.js';

export const CHANNEL_PREFIX = 'live-chat:conv:';
export const DEVICES_CHANNEL = 'live-chat:devices';
/** Control messages between instances (today only "catch up from the store"). */
export const INSTANCES_CHANNEL = 'live-chat:instances';

/** What goes on a conversation's channel. `i` is the publishing instance: an instance ignores its own events. */
interface EventEnvelope {
  i: string;
  e: RoomEvent;
}
/** Device claims, many to a message when an instance claims all it holds again. */
interface ClaimEnvelope {
  i: string;
  claims: DeviceClaim[];
}
/** `resync`: catch up from the store. `reclaim`: claim every device you hold again. */
interface ControlEnvelope {
  i: string;
  resync?: true;
  reclaim?: true;
}

/** Conversations whose delivery to other instances failed while Redis was down; past this, every instance catches up everything. */
const MAX_PENDING_CONVERSATIONS = 10_000;
const SUBSCRIBE_BATCH = 500;
const CLAIM_BATCH = 500;
/**
 * Both links coming back, and every instance asking after an outage, make one reclaim per instance,
 * not one per ask: the Redis client's retries spread reconnects over up to a second.
 */
const RECLAIM_DELAY_MS = 1500;

export interface RedisBusOptions {
  /** How long start waits for Redis before going on without it (unhealthy, recovering by itself). */
  startTimeoutMs?: number;
}

/** Options shared by every Redis connection of an instance: fail fast while disconnected, reconnect forever. */
export function redisOptions(name: string): RedisOptions {
  return {
    connectionName: name,
    // Commands issued while disconnected fail at once instead of waiting in a queue: a send is
    // stored and acked without the bus, and the bus repairs delivery when it is back.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A Redis that stops answering (not only refusing) must not hang a send either.
    commandTimeout: 1000,
    connectTimeout: 2000,
    // Reconnect forever, quickly at first: 100 ms, 200 ms, … up to 1 s between tries.
    retryStrategy: (times) => Math.min(times * 100, 1000),
    // RESP2 keeps a subscribed connection in the classic subscriber mode on every Redis version.
    protocol: 2,
  };
}

/**
 * The bus between instances over Redis pub/sub: one channel per conversation, one for device
 * claims, one for control. Two connections: a subscriber (in subscriber mode, it can do nothing
 * else) and a publisher.
 *
 * Pub/sub is at most once, so the bus repairs what an outage loses: the subscriber restores its
 * subscriptions itself after every reconnect (it keeps the set it wants, including channels asked
 * for while it was down) and only then asks for a catch-up from the store (`handlers.resync`);
 * the publisher remembers, per conversation, the newest message it could not publish and publishes
 * it again once reconnected, so that instances that never lost their subscription fetch the gap
 * from the store when that message arrives (deliveries carry seq, and a connection fills a gap
 * before a later seq). Device claims are not kept either: when either connection comes back, the
 * instance claims every device it holds again and asks the others to do the same, so that two
 * connections of one (user, device) made on two instances during an outage meet, and the older
 * closes, whichever instance's link returned first. Outside of that an instance never answers a
 * claim: with clocks apart, an answer could close the newer connection.
 */
export async function createRedisBus(url: string, handlers: BusHandlers, log: Logger, options: RedisBusOptions = {}): Promise<Bus & { instanceId: string }> {
  const instanceId = randomUUID();
  const subscriber = new Redis(url, { ...redisOptions(`live-chat-sub-${instanceId.slice(0, 8)}`), autoResubscribe: false });
  const publisher = new Redis(url, redisOptions(`live-chat-pub-${instanceId.slice(0, 8)}`));

  /** Conversations this instance wants to hear about (its connections joined them). */
  const wanted = new Set<string>();
  /** True once the subscriber has every wanted channel since its last (re)connect. */
  let subscribed = false;
  let closing = false;
  /** Set when a connection to Redis was lost: the next 'ready' must catch up from the store. */
  let subscriberLost = false;
  let publisherLost = false;
  let warnedPublish = false;

  const pendingMessages = new Map<string, Extract<RoomEvent, { kind: 'message' }>>();
  let pendingOverflow = false;
  let reclaimTimer: ReturnType<typeof setTimeout> | undefined;
  let askOthersToReclaim = false;

  /** What Redis said last when it failed: start says it, rather than only "not reachable". */
  let lastError: Error | undefined;
  // An 'error' event without a listener would crash the process; errors are followed by 'close' and a reconnect.
  const heard = (client: string) => (error: Error) => {
    lastError = error;
    log.debug({ err: error }, `redis ${client} error`);
  };
  subscriber.on('error', heard('subscriber'));
  publisher.on('error', heard('publisher'));

  subscriber.on('close', () => {
    if (closing) return;
    if (!subscriberLost) log.warn('redis subscriber disconnected; deliveries from other instances are caught up from the store when it is back');
    subscriberLost = true;
    subscribed = false;
  });
  publisher.on('close', () => {
    if (closing) return;
    if (!publisherLost) log.warn('redis publisher disconnected');
    publisherLost = true;
  });

  subscriber.on('message', (channel: string, data: string) => {
    let parsed: EventEnvelope | ClaimEnvelope | ControlEnvelope;
    try {
      parsed = JSON.parse(data) as typeof parsed;
    } catch (error) {
      log.warn({ err: error, channel }, 'unreadable bus message');
      return;
    }
    if (parsed.i === instanceId) return; // this instance delivered it locally already
    try {
      if (channel === DEVICES_CHANNEL && 'claims' in parsed) for (const claim of parsed.claims) handlers.deviceClaim(claim);
      else if (channel === INSTANCES_CHANNEL && 'resync' in parsed) handlers.resync();
      else if (channel === INSTANCES_CHANNEL && 'reclaim' in parsed) reclaimSoon(false);
      else if (channel.startsWith(CHANNEL_PREFIX) && 'e' in parsed) handlers.event(channel.slice(CHANNEL_PREFIX.length), parsed.e);
    } catch (error) {
      log.error({ err: error, channel }, 'bus message handler failed');
    }
  });

  /** Subscribes every wanted channel on a fresh connection, then catches up from the store if deliveries were lost. */
  async function restore(): Promise<void> {
    try {
      await subscriber.subscribe(DEVICES_CHANNEL, INSTANCES_CHANNEL);
      // Joins and leaves can happen while this runs: repeat until the subscriptions match what is wanted.
      let have = new Set<string>();
      for (;;) {
        const missing = [...wanted].filter((id) => !have.has(id));
        const stale = [...have].filter((id) => !wanted.has(id));
        if (!missing.length && !stale.length) break;
        for (let i = 0; i < missing.length; i += SUBSCRIBE_BATCH) await subscriber.subscribe(...missing.slice(i, i + SUBSCRIBE_BATCH).map((id) => CHANNEL_PREFIX + id));
        for (let i = 0; i < stale.length; i += SUBSCRIBE_BATCH) await subscriber.unsubscribe(...stale.slice(i, i + SUBSCRIBE_BATCH).map((id) => CHANNEL_PREFIX + id));
        have = new Set([...have, ...missing].filter((id) => !stale.includes(id)));
      }
    } catch (error) {
      log.warn({ err: error }, 'redis resubscription failed; retrying on the next reconnect');
      return;
    }
    if (subscriber.status !== 'ready') return; // lost again meanwhile: the next 'ready' restores
    subscribed = true;
    if (subscriberLost) {
      subscriberLost = false;
      log.info({ conversations: wanted.size }, 'redis subscriber back; catching up from the store');
      // Only now: a message stored after this catch-up reads the store is published to a channel we are subscribed to.
      handlers.resync();
      reclaimSoon(true); // claims published while we could not hear them are gone
    }
  }
  subscriber.on('ready', () => void restore());

  /** The publisher works again: reconnected, or answering again after it hung without losing its connection. */
  function publisherBack(): void {
    warnedPublish = false;
    if (!publisherLost) return;
    publisherLost = false;
    void flushPending();
    reclaimSoon(true); // ours published meanwhile were lost
  }
  publisher.on('ready', publisherBack);

  /** Claims every device held here again, and with `askOthers` has every other instance do the same. */
  function reclaimSoon(askOthers: boolean): void {
    askOthersToReclaim ||= askOthers;
    if (reclaimTimer || closing) return;
    reclaimTimer = setTimeout(() => {
      reclaimTimer = undefined;
      const ask = askOthersToReclaim;
      askOthersToReclaim = false;
      void claimDevices([...handlers.heldDevices()], ask);
    }, RECLAIM_DELAY_MS);
  }

  /** Publishes again what could not be published while Redis was away. */
  async function flushPending(): Promise<void> {
    const messages = [...pendingMessages.values()];
    const overflow = pendingOverflow;
    pendingMessages.clear();
    pendingOverflow = false;
    if (messages.length || overflow) log.info({ messages: messages.length, overflow }, 'redis publisher back; publishing what was missed');
    try {
      if (overflow) await publisher.publish(INSTANCES_CHANNEL, JSON.stringify({ i: instanceId, resync: true } satisfies ControlEnvelope));
      for (const event of messages) await publisher.publish(CHANNEL_PREFIX + event.message.conversation_id, JSON.stringify({ i: instanceId, e: event } satisfies EventEnvelope));
    } catch (error) {
      // Lost again: keep them for the next reconnect.
      log.warn({ err: error }, 'publishing what was missed failed; retrying on the next reconnect');
      for (const event of messages) rememberMessage(event);
      pendingOverflow ||= overflow;
      publisherLost = true;
    }
  }

  function rememberMessage(event: Extract<RoomEvent, { kind: 'message' }>): void {
    const id = event.message.conversation_id;
    const known = pendingMessages.get(id);
    if (known && known.message.seq >= event.message.seq) return;
    if (!known && pendingMessages.size >= MAX_PENDING_CONVERSATIONS) {
      pendingOverflow = true;
      return;
    }
    pendingMessages.set(id, event);
  }

  function publishFailed(error: unknown): void {
    publisherLost = true;
    if (warnedPublish) return;
    warnedPublish = true;
    log.warn({ err: error }, 'redis publish failed; other instances catch up from the store when Redis is back');
  }

  async function publish(conversationId: string, event: RoomEvent): Promise<void> {
    try {
      if (publisher.status !== 'ready') throw new Error(`redis publisher is ${publisher.status}`);
      await publisher.publish(CHANNEL_PREFIX + conversationId, JSON.stringify({ i: instanceId, e: event } satisfies EventEnvelope));
      publisherBack();
    } catch (error) {
      // Typing and read receipts are not repaired (a read position is in the store, shown on the next join).
      if (event.kind === 'message') rememberMessage(event);
      publishFailed(error);
    }
  }

  async function claimDevices(claims: readonly DeviceClaim[], askOthers = false): Promise<void> {
    try {
      if (publisher.status !== 'ready') throw new Error(`redis publisher is ${publisher.status}`);
      for (let k = 0; k < claims.length; k += CLAIM_BATCH) {
        await publisher.publish(DEVICES_CHANNEL, JSON.stringify({ i: instanceId, claims: claims.slice(k, k + CLAIM_BATCH) } satisfies ClaimEnvelope));
      }
      if (askOthers) await publisher.publish(INSTANCES_CHANNEL, JSON.stringify({ i: instanceId, reclaim: true } satisfies ControlEnvelope));
    } catch (error) {
      publishFailed(error); // claimed again, with every device held here, when the publisher is back
    }
  }

  async function subscribe(conversationId: string): Promise<void> {
    wanted.add(conversationId);
    // While disconnected the channel is subscribed with the others on the next 'ready'.
    if (subscriber.status !== 'ready' || !subscribed) return;
    await subscriber.subscribe(CHANNEL_PREFIX + conversationId);
  }

  async function unsubscribe(conversationId: string): Promise<void> {
    wanted.delete(conversationId);
    if (subscriber.status !== 'ready' || !subscribed) return;
    // Joined again while the unsubscribe was being decided: keep it.
    if (wanted.has(conversationId)) return;
    await subscriber.unsubscribe(CHANNEL_PREFIX + conversationId);
  }

  // Start: wait a moment for Redis, then go on either way. Redis is not the truth: an instance
  // without it stores and acks every send and serves its own connections; /healthz says 503 and
  // the bus catches up by itself when Redis comes.
  const startTimeoutMs = options.startTimeoutMs ?? 3000;
  const deadline = Date.now() + startTimeoutMs;
  while (!(subscribed && publisher.status === 'ready') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const ready = subscribed && publisher.status === 'ready';
  if (!ready && lastError && REFUSED_CREDENTIALS.test(lastError.message)) {
    // Unlike a Redis not up yet, a refused password does not mend itself: the operator hears it now, not as a lasting 503.
    subscriber.disconnect();
    publisher.disconnect();
    throw new Error(`Redis at ${describeUrl(url)} (REDIS_URL) refused the credentials: ${lastError.message}`);
  }
  if (!ready) {
    log.error({ redis: describeUrl(url), reason: lastError?.message }, 'redis is not reachable (REDIS_URL); starting without it: /healthz answers 503 and delivery to other instances starts when Redis is reachable');
    // Deliveries of the time before the first connection are caught up then.
    if (!subscribed) subscriberLost = true;
    if (publisher.status !== 'ready') publisherLost = true;
  }

  return {
    instanceId,
    publish,
    subscribe,
    unsubscribe,
    claimDevices,
    // Connected is not enough: a Redis that hangs (stopped, swapping) keeps its connections and times every command out.
    async healthy() {
      if (!(subscribed && subscriber.status === 'ready' && publisher.status === 'ready')) return false;
      try {
        await publisher.ping();
      } catch {
        return false;
      }
      publisherBack();
      return true;
    },
    async close() {
      closing = true;
      clearTimeout(reclaimTimer);
      await Promise.allSettled([subscriber.quit(), publisher.quit()]);
      subscriber.disconnect();
      publisher.disconnect();
    },
  };
}

/** Redis's answers to a missing or wrong password (or ACL user). */
const REFUSED_CREDENTIALS = /^(NOAUTH|WRONGPASS)|invalid password|invalid username-password/i;

/** host:port, without a password. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || 6379}`;
  } catch {
    return 'REDIS_URL';
  }
}
