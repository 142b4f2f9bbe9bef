import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { MAX_FRAME_BYTES, WS_PATH } from '../../protocol/index.js';
import type { Hub } from '../session/hub.js';
import { runSession } from '../session/socket-session.js';

/**
 * Accepts WebSocket upgrades on /ws/chat. An Origin outside the allow-list gets 403; no Origin
 * (a non-browser client) is let through, since the token is what authenticates.
 */
export function createUpgradeHandler(hub: Hub) {
  // ws closes with 1009 by itself when a frame is over maxPayload.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  const refuse = (socket: Duplex, status: number, text: string) => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };
  const handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== WS_PATH) return refuse(socket, 404, 'Not Found');
    const origin = req.headers.origin;
    if (origin !== undefined && hub.config.allowedOrigins && !hub.config.allowedOrigins.has(origin)) return refuse(socket, 403, 'Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => runSession(hub, ws));
  };
  return { handle, wss };
}
