import type { ChatMessage } from '../protocol/index.js';
import type { OutboxEntry } from '../outbox/index.js';
import type { ClientMessage, MessageStatus } from './types.js';

export type Change = { kind: 'message' | 'update'; message: ClientMessage };

/**
 * The conversation as this tab shows it: server messages by seq, then this user's unacked ones
 * in the order they were written. Every change goes through here, keyed by message_id, so a
 * message is never shown twice however often it arrives (retries, history, other tabs).
 */
export class Conversation {
  private readonly byId = new Map<string, ClientMessage>();
  peerReadSeq = 0;
  readSeq = 0;
  /**
   * The conversation's highest seq when this device first joined it with nothing cached (or
   * after a store reset): what came up to there was history, what comes after is news.
   */
  joinedAtSeq: number | undefined;
  /**
   * Every message from where this device joined up to this seq is held: what a join asks to
   * continue from. Not the highest seq held: an ack or a live message can land past a gap still
   * being fetched, and a join from there would never ask for the gap again.
   */
  syncedSeq = 0;

  constructor(
    readonly conversationId: string,
    readonly selfId: string,
    readonly selfRole: ClientMessage['sender_role'],
  ) {}

  /** Every message, confirmed ones by seq first, then pending ones by when they were written. */
  list(): ClientMessage[] {
    return [...this.byId.values()].sort(order);
  }

  /** This user's messages not stored yet (only this user's can be), in no particular order. */
  unsent(): ClientMessage[] {
    return [...this.byId.values()].filter((m) => m.seq === undefined);
  }

  get(messageId: string): ClientMessage | undefined {
    return this.byId.get(messageId);
  }

  /** Moves syncedSeq up to `seq` (a page that continues it), then on over the messages held right after; whether it moved. */
  advanceSynced(seq = 0): boolean {
    const held = new Set<number>();
    for (const m of this.byId.values()) if (m.seq !== undefined) held.add(m.seq);
    let synced = Math.max(this.syncedSeq, seq);
    while (held.has(synced + 1)) synced++;
    if (synced === this.syncedSeq) return false;
    this.syncedSeq = synced;
    return true;
  }

  /** With no mark yet, the oldest message held is one (what lies before it is history); then on over what follows it. */
  markFromHeld(): void {
    this.syncedSeq ||= this.lowestSeq() ?? 0;
    this.advanceSynced();
  }

  /** The highest seq held. */
  highestSeq(): number {
    let max = 0;
    for (const m of this.byId.values()) if (m.seq !== undefined && m.seq > max) max = m.seq;
    return max;
  }

  lowestSeq(): number | undefined {
    let min: number | undefined;
    for (const m of this.byId.values()) if (m.seq !== undefined && (min === undefined || m.seq < min)) min = m.seq;
    return min;
  }

  /** A message the server stored (history, new_message, or an ack turned into one). */
  addStored(stored: ChatMessage): Change | undefined {
    const existing = this.byId.get(stored.message_id);
    const mine = stored.sender_id === this.selfId;
    const status: MessageStatus = mine && stored.seq <= this.peerReadSeq ? 'read' : existing?.status === 'read' ? 'read' : 'sent';
    const next: ClientMessage = { ...stored, status, mine };
    if (existing && existing.seq === next.seq && existing.status === next.status) return undefined;
    this.byId.set(stored.message_id, next);
    return { kind: existing ? 'update' : 'message', message: next };
  }

  /** A message of this user's outbox (written in this tab, another tab, or before a reload). */
  addPending(entry: OutboxEntry): Change | undefined {
    const existing = this.byId.get(entry.message_id);
    if (existing?.seq !== undefined) return undefined; // already acked
    const status: MessageStatus = entry.status === 'failed' ? 'failed' : existing?.status === 'sending' ? 'sending' : 'queued';
    if (existing && existing.status === status) return undefined;
    const next: ClientMessage = {
      message_id: entry.message_id,
      conversation_id: entry.conversation_id,
      sender_id: this.selfId,
      sender_role: this.selfRole,
      content: entry.content,
      content_type: 'text',
      queued_at: entry.queued_at,
      status,
      mine: true,
    };
    this.byId.set(entry.message_id, next);
    return { kind: existing ? 'update' : 'message', message: next };
  }

  /** Status of a message not yet acked (queued, sending, failed). */
  setPendingStatus(messageId: string, status: MessageStatus): Change | undefined {
    const existing = this.byId.get(messageId);
    if (!existing || existing.seq !== undefined || existing.status === status) return undefined;
    const next = { ...existing, status };
    this.byId.set(messageId, next);
    return { kind: 'update', message: next };
  }

  /** Applies a change made in another tab. */
  apply(message: ClientMessage): Change | undefined {
    const existing = this.byId.get(message.message_id);
    if (existing?.seq !== undefined && message.seq === undefined) return undefined; // never step back from acked
    if (existing && JSON.stringify(existing) === JSON.stringify(message)) return undefined;
    this.byId.set(message.message_id, message);
    return { kind: existing ? 'update' : 'message', message };
  }

  /** Someone else read up to `seq`: this user's messages up to it become `read`. */
  peerRead(seq: number): Change[] {
    if (seq <= this.peerReadSeq) return [];
    this.peerReadSeq = seq;
    const changes: Change[] = [];
    for (const m of this.byId.values()) {
      if (m.mine && m.seq !== undefined && m.seq <= seq && m.status !== 'read') {
        const next = { ...m, status: 'read' as const };
        this.byId.set(m.message_id, next);
        changes.push({ kind: 'update', message: next });
      }
    }
    return changes;
  }

  /** Drops every confirmed message (the server's store was reset); pending ones stay. */
  dropStored(): void {
    for (const [id, m] of this.byId) if (m.seq !== undefined) this.byId.delete(id);
    this.peerReadSeq = 0;
    this.readSeq = 0;
    this.syncedSeq = 0;
  }
}

function order(a: ClientMessage, b: ClientMessage): number {
  if (a.seq !== undefined && b.seq !== undefined) return a.seq - b.seq;
  if (a.seq !== undefined) return -1;
  if (b.seq !== undefined) return 1;
  return (a.queued_at ?? 0) - (b.queued_at ?? 0);
}
