import { TYPING_THROTTLE_MS } from '../../protocol/index.js';

/** Entries older than the throttle window are useless; they are swept once the map grows past this. */
const SWEEP_AT = 10_000;

/**
 * At most one `is_typing: true` forwarded per user per conversation per window. An
 * `is_typing: false` does not reset the window, so a client toggling fast cannot defeat it.
 */
export interface TypingThrottle {
  /** Whether this `is_typing: true` may be forwarded now (and, if so, counts it). */
  allowTrue(userId: string, conversationId: string): boolean | Promise<boolean>;
  close?(): Promise<void>;
}

/** The throttle of one instance. */
export class MemoryTypingThrottle implements TypingThrottle {
  private readonly lastTrue = new Map<string, number>();

  constructor(private readonly windowMs = TYPING_THROTTLE_MS) {}

  allowTrue(userId: string, conversationId: string, now = Date.now()): boolean {
    const key = `${userId}\u0000${conversationId}`;
    const last = this.lastTrue.get(key);
    if (last !== undefined && now - last < this.windowMs) return false;
    if (this.lastTrue.size >= SWEEP_AT) this.sweep(now);
    this.lastTrue.set(key, now);
    return true;
  }

  private sweep(now: number): void {
    for (const [key, at] of this.lastTrue) if (now - at >= this.windowMs) this.lastTrue.delete(key);
  }
}
