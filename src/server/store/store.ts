import type { ChatMessage, Role } from '../../protocol/index.js';

/** A message to store; the store assigns `seq` and `created_at`. */
export interface NewMessage {
  message_id: string;
  conversation_id: string;
  sender_id: string;
  sender_role: Role;
  content: string;
  content_type: 'text';
}

export type AppendResult =
  /** `duplicate`: the message_id was stored before (a retry); `message` is the first one, unchanged. */
  | { kind: 'stored' | 'duplicate'; message: ChatMessage }
  /** The message_id is already used in another conversation. */
  | { kind: 'conflict' };

export interface HistoryQuery {
  before_seq?: number | undefined;
  after_seq?: number | undefined;
  limit: number;
}

export interface HistoryResult {
  /** Ascending seq. */
  messages: ChatMessage[];
  /** More exist beyond this page in the direction asked. */
  has_more: boolean;
  /** The conversation's highest seq when the page was read (0 when empty). */
  last_seq: number;
}

export interface ReadPositions {
  read_seq: number;
  peer_read_seq: number;
}

/**
 * Where messages live: the truth every instance agrees on. Every method either completes or
 * rejects with nothing half-written; a rejection is a storage failure (answered with 4100).
 */
export interface Store {
  /** Stores a message, giving it the conversation's next seq, once per message_id across the store. */
  append(message: NewMessage): Promise<AppendResult>;
  /** One page of a conversation, read in one snapshot with its last_seq. */
  history(conversationId: string, query: HistoryQuery): Promise<HistoryResult>;
  /** A stored message by its id, if any. */
  find(messageId: string): Promise<ChatMessage | undefined>;
  /** Moves a user's read position forward to `seq` (never back); returns whether it moved. */
  markRead(conversationId: string, userId: string, seq: number): Promise<boolean>;
  readPositions(conversationId: string, userId: string): Promise<ReadPositions>;
  /** Resolves when the store answers; used by /healthz. */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** created_at never decreases as seq grows, even if the clock steps back. */
export function nextCreatedAt(previous: string | null | undefined, now = new Date()): string {
  const iso = now.toISOString();
  return previous && previous > iso ? previous : iso;
}
