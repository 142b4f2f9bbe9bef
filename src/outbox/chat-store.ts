import type { ChatMessage } from '../protocol/index.js';

/** A message written by this device that the server has not acked yet. */
export interface OutboxEntry {
  message_id: string;
  conversation_id: string;
  content: string;
  /** When it was written (ms since the epoch, fractional to keep order): the outbox is flushed in this order. */
  queued_at: number;
  /** `failed`: the retries ran out; kept for a manual retry, never dropped. */
  status: 'queued' | 'failed';
  /** Failed because the server refused it (4000): sent again only by the user's retry, not by a new connection. */
  refused?: boolean;
}

/** What the client keeps of a conversation between page loads. */
export interface ReadState {
  read_seq: number;
  peer_read_seq: number;
  /** Every message from the join point up to here is held (see Conversation.syncedSeq); missing in stores written before it was kept. */
  synced_seq?: number;
}

/**
 * Where the client keeps the outbox and its copy of the conversation. IndexedDB when the
 * browser allows it, so a reload, a closed tab or a browser restart loses nothing; memory
 * otherwise (`persistent` false), which the UI shows as a warning.
 */
export interface ChatStore {
  readonly persistent: boolean;
  /**
   * A stable id for this browser profile's connection to one conversation, made on first use.
   * Per conversation because the tabs share one socket per conversation: an agent with two
   * conversations open in two tabs holds two sockets, which must not replace each other (4009).
   */
  deviceId(conversationId: string): Promise<string>;
  putOutbox(entry: OutboxEntry): Promise<void>;
  /** The conversation's unacked messages, oldest first. */
  outbox(conversationId: string): Promise<OutboxEntry[]>;
  removeOutbox(messageId: string): Promise<void>;
  putMessages(messages: readonly ChatMessage[]): Promise<void>;
  /** The newest `limit` cached messages of a conversation, in ascending seq. */
  messages(conversationId: string, limit: number): Promise<ChatMessage[]>;
  readState(conversationId: string): Promise<ReadState>;
  putReadState(conversationId: string, state: ReadState): Promise<void>;
  /** Drops the cached copy (the server's store was reset); the outbox stays. */
  clearConversation(conversationId: string): Promise<void>;
  close(): void;
}

let lastQueuedAt = 0;
/**
 * A strictly increasing timestamp, so two messages written in the same millisecond keep their
 * order, and after `waiting` (the newest still in the outbox, written before a reload or in
 * another tab): a clock set back since must not put a new message before it.
 */
export function nextQueuedAt(waiting = 0, now = Date.now()): number {
  lastQueuedAt = Math.max(now, lastQueuedAt + 0.001, waiting + 0.001);
  return lastQueuedAt;
}
