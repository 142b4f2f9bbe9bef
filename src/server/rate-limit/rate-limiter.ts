export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number };

/** Counts new messages per user over a sliding window, across all of that user's connections. */
export interface RateLimiter {
  /** Counts one message if the user is under the limit. */
  take(userId: string): Promise<RateDecision>;
  /** Gives back a message that was counted but then refused (a storage failure, a duplicate). */
  refund(userId: string): Promise<void>;
}
