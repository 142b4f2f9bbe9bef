/** Numbers fixed by PROTOCOL.md (version 1). Both sides import them; none may change without a new protocol version. */

export const PROTOCOL_VERSION = 1;
export const WS_PATH = '/ws/chat';

/** Client frames are refused above 64 KiB of UTF-8 (the server closes with 1009). */
export const MAX_FRAME_BYTES = 65_536;
/**
 * Server frames have no limit in the protocol, and a join's replay of 500 messages can reach
 * tens of megabytes: the 4000 characters do not count the white space around the text, so each
 * message can be as large as the frame that sent it (64 KiB; ids need no escaping). Clients
 * refuse only what no valid frame can reach: 500 such messages and their envelopes fit inside.
 */
export const MAX_SERVER_FRAME_BYTES = 40 * 1024 * 1024;
/** Message content, counted in Unicode code points after trimming. */
export const MAX_CONTENT_CHARS = 4000;
export const MIN_CONTENT_CHARS = 1;
/** User and conversation ids: 1–128 characters of this set. */
export const ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;
export const MAX_ID_LENGTH = 128;

export const HANDSHAKE_TIMEOUT_MS = 30_000;
export const AUTH_TIMEOUT_MS = 10_000;
export const JOIN_ACK_TIMEOUT_MS = 5_000;
/** The server pings after this long without a client frame ... */
export const SERVER_PING_AFTER_MS = 30_000;
/** ... and closes (1001) a connection silent for this long. */
export const SERVER_IDLE_TIMEOUT_MS = 65_000;
/** The client pings after this long without a server frame ... */
export const CLIENT_PING_AFTER_MS = 25_000;
/** ... and treats the socket as dead if nothing arrives this long after its ping. */
export const CLIENT_PONG_TIMEOUT_MS = 10_000;
/** A socket not open this long after the client opened it (a route that swallows packets), or open this long without an answer to its auth, is given up and tried again. Not in the contract: this project's choice. */
export const CLIENT_OPEN_TIMEOUT_MS = 10_000;

/** Client reconnect schedule after an unexpected close, then it stops and offers a manual reconnect. */
export const RECONNECT_DELAYS_MS: readonly number[] = [0, 1000, 2000, 4000, 8000];
/** Each reconnect delay gets up to this fraction added as random jitter. */
export const RECONNECT_JITTER = 0.2;
/** Unacked sends are retried with the same message_id this many times in all, this far apart, while connected. */
export const SEND_TRIES = 3;
export const SEND_RETRY_INTERVAL_MS = 10_000;

export const RATE_LIMIT_PER_MINUTE = 30;
export const RATE_LIMIT_WINDOW_MS = 60_000;
/** More bad frames than this on one connection: close 1008. */
export const MAX_BAD_FRAMES = 20;
/** At most one `is_typing: true` forwarded per user per conversation per this interval. */
export const TYPING_THROTTLE_MS = 1000;

/** History sent after a join that carries a usable `last_seq`: the oldest this many after it. */
export const JOIN_REPLAY_LIMIT = 500;
/** History sent after a join without a usable `last_seq`: the newest this many. */
export const JOIN_NEWEST_LIMIT = 50;
export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 100;
