import { CloseCode, serverFrame } from '../../protocol/index.js';
import type { Hub } from './hub.js';

/**
 * One timer for all connections instead of one each: pings a connection silent for
 * PING_INTERVAL_MS, closes (1001) one silent for IDLE_TIMEOUT_MS.
 */
export function startHeartbeat(hub: Hub): () => void {
  const { pingIntervalMs, idleTimeoutMs } = hub.config;
  const tick = Math.max(20, Math.min(1000, Math.floor(pingIntervalMs / 4)));
  const timer = setInterval(() => {
    const now = Date.now();
    for (const connection of hub.registry.connections) {
      if (connection.state !== 'authed') continue;
      const silent = now - connection.lastFrameAt;
      if (silent >= idleTimeoutMs) connection.close(CloseCode.GOING_AWAY, 'idle');
      else if (silent >= pingIntervalMs && !connection.pinged) {
        connection.pinged = true;
        connection.send(serverFrame('ping', {}));
      }
    }
  }, tick);
  timer.unref();
  return () => clearInterval(timer);
}
