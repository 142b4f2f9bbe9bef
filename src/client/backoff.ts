/**
 * The delay before reconnect attempt `attempt` (0-based): the schedule's step plus up to
 * `jitter` of it at random, so a restarted server is not hit by every client at once.
 * null once the schedule is used up: the client stops and offers a manual reconnect.
 */
export function reconnectDelay(attempt: number, schedule: readonly number[], jitter: number, random: () => number = Math.random): number | null {
  const base = schedule[attempt];
  if (base === undefined) return null;
  return Math.round(base * (1 + jitter * random()));
}
