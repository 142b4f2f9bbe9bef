/** The browser socket client: no Lit, no DOM rendering. */
export { LiveChatClient, DEFAULT_TIMING, type LiveChatClientOptions } from './live-chat-client.js';
export { reconnectDelay } from './backoff.js';
export { NoToken, readClaims } from './token.js';
export type { ClientError, ClientEvents, ClientMessage, ClientTiming, ConnectionState, MessageStatus, TokenProvider } from './types.js';
