import type { Role } from '../protocol/index.js';

/** The connection's named states, observable by the UI. */
export type ConnectionState =
  | 'idle'
  | 'connecting'
  | 'authenticating'
  | 'joining'
  | 'connected'
  | 'reconnecting'
  | 'stopped'
  /** The browser has no network: messages wait in the outbox; `online` (or a send, a visible page, the user) tries again. */
  | 'offline'
  | 'auth-failed'
  | 'replaced';

/** queued (in the outbox) → sending (on the wire) → sent (acked, has seq) → read; failed after the retries. */
export type MessageStatus = 'queued' | 'sending' | 'sent' | 'read' | 'failed';

/** A message as the UI shows it: confirmed by the server (seq) or still in this device's outbox. */
export interface ClientMessage {
  message_id: string;
  conversation_id: string;
  sender_id: string;
  sender_role: Role;
  content: string;
  content_type: 'text';
  seq?: number;
  created_at?: string;
  /** When this device wrote it (own unacked messages only). */
  queued_at?: number;
  status: MessageStatus;
  /** Written by this user (on this device or another). */
  mine: boolean;
}

export interface ClientError {
  code: number;
  message: string;
  message_id?: string;
  /** With 4008: how long until the server takes another message. */
  retry_after_ms?: number;
}

/** Event name → detail. */
export interface ClientEvents {
  state: { state: ConnectionState; previous: ConnectionState; error?: ClientError };
  /** A message appeared (incoming, older history, or written here). */
  message: { message: ClientMessage };
  /** A message changed (status, seq after its ack). */
  update: { message: ClientMessage };
  typing: { user_id: string; is_typing: boolean };
  /** Someone else read up to `seq`. */
  read: { user_id: string; seq: number };
  /** This user's read position moved up to `seq`: read here, in another tab, or on another device. */
  seen: { seq: number };
  error: ClientError;
  /** The server's store was reset: the local copy was dropped and replaced. */
  reset: { last_seq: number };
  /** Where messages are kept: false means memory only (IndexedDB unavailable), so a reload loses the outbox. */
  storage: { persistent: boolean };
}

export type TokenProvider = () => string | Promise<string>;

/** Timings, defaulting to PROTOCOL.md's; tests shorten them. */
export interface ClientTiming {
  reconnectDelaysMs: readonly number[];
  jitter: number;
  pingAfterMs: number;
  pongTimeoutMs: number;
  /** A socket that has not opened by then, or whose auth has not been answered that long after it opened, is given up and tried again on the schedule. */
  openTimeoutMs: number;
  joinTimeoutMs: number;
  sendRetryMs: number;
  sendTries: number;
  /** How often the heartbeat looks at the clock. */
  heartbeatTickMs: number;
}
