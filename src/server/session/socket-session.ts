import type { RawData, WebSocket } from 'ws';
import { CloseCode, MAX_BAD_FRAMES, decodeClientFrame, serverFrame } from '../../protocol/index.js';
import { authenticate } from './authenticate.js';
import { Connection } from './connection.js';
import { handleFrame } from './frame-handlers.js';
import type { Hub } from './hub.js';

/**
 * Runs one accepted socket: the auth deadline, decoding, the bad-frame budget, and frames handled
 * one at a time in arrival order (a send right after a join must see the join done).
 */
export function runSession(hub: Hub, socket: WebSocket): Connection {
  const connection = new Connection(socket, hub);
  hub.registry.connections.add(connection);
  hub.metrics.connections.set(hub.registry.connections.size);
  let firstFrame = false;
  connection.after(hub.config.authTimeoutMs, () => {
    // The deadline is for the first frame; verifying it (a JWKS fetch) may take longer, bounded by jose's own timeout.
    if (!firstFrame) connection.close(CloseCode.AUTH_FAILED, 'no auth frame in time');
  });

  let queue = Promise.resolve();
  socket.on('message', (data: RawData, isBinary: boolean) => {
    firstFrame = true;
    connection.lastFrameAt = Date.now();
    connection.pinged = false;
    const raw = isBinary ? data : data.toString();
    // A ping is answered at once, not behind a send waiting on the store: the client's pong timeout must not fire on a busy socket.
    if (connection.state === 'authed' && typeof raw === 'string' && raw.length < 200 && answerPing(hub, connection, raw)) return;
    queue = queue.then(() => receive(hub, connection, raw)).catch((error: unknown) => hub.log.error({ err: error }, 'frame handler failed'));
  });
  socket.on('error', (error) => hub.log.debug({ err: error }, 'socket error'));
  socket.on('close', () => {
    connection.closed();
    void hub.registry
      .remove(connection, connection.identity?.userId, connection.deviceId)
      .catch((error: unknown) => hub.log.warn({ err: error }, 'cleanup after close failed'))
      .finally(() => hub.metrics.connections.set(hub.registry.connections.size));
  });
  return connection;
}

function answerPing(hub: Hub, connection: Connection, raw: string): boolean {
  const decoded = decodeClientFrame(raw);
  if (!decoded.ok || decoded.frame.type !== 'ping') return false;
  hub.metrics.framesIn.inc({ type: 'ping' });
  connection.send(serverFrame('pong', {}));
  return true;
}

async function receive(hub: Hub, connection: Connection, raw: unknown): Promise<void> {
  if (connection.state === 'closed') return;
  const decoded = decodeClientFrame(raw);
  if (connection.state === 'awaiting-auth') {
    if (!decoded.ok || decoded.frame.type !== 'auth') return connection.close(CloseCode.AUTH_FAILED, 'the first frame must be auth');
    hub.metrics.framesIn.inc({ type: 'auth' });
    return authenticate(hub, connection, decoded.frame);
  }
  if (!decoded.ok) {
    hub.metrics.framesIn.inc({ type: 'invalid' });
    if (decoded.tooLarge) return connection.close(CloseCode.TOO_LARGE, 'frame too large');
    connection.send(serverFrame('error', decoded.error));
    if (++connection.badFrames > MAX_BAD_FRAMES) connection.close(CloseCode.POLICY_VIOLATION, 'too many bad frames');
    return;
  }
  hub.metrics.framesIn.inc({ type: decoded.frame.type });
  await handleFrame(hub, connection, decoded.frame);
}
