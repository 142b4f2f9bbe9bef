import { newMessageId, type ChatMessage } from '../protocol/index.js';
import type { ChatStore, OutboxEntry, ReadState } from './chat-store.js';

/** The fallback where IndexedDB is missing or refuses (private modes, some in-app browsers): lasts as long as the page. */
export class MemoryChatStore implements ChatStore {
  readonly persistent = false;
  private readonly devices = new Map<string, string>();
  private readonly pending = new Map<string, OutboxEntry>();
  private readonly cached = new Map<string, ChatMessage>();
  private readonly reads = new Map<string, ReadState>();

  async deviceId(conversationId: string): Promise<string> {
    let id = this.devices.get(conversationId);
    if (!id) this.devices.set(conversationId, (id = newMessageId()));
    return id;
  }
  async putOutbox(entry: OutboxEntry): Promise<void> {
    this.pending.set(entry.message_id, { ...entry });
  }
  async outbox(conversationId: string): Promise<OutboxEntry[]> {
    return [...this.pending.values()].filter((e) => e.conversation_id === conversationId).sort((a, b) => a.queued_at - b.queued_at);
  }
  async removeOutbox(messageId: string): Promise<void> {
    this.pending.delete(messageId);
  }
  async putMessages(messages: readonly ChatMessage[]): Promise<void> {
    for (const m of messages) this.cached.set(m.message_id, { ...m });
  }
  async messages(conversationId: string, limit: number): Promise<ChatMessage[]> {
    const all = [...this.cached.values()].filter((m) => m.conversation_id === conversationId).sort((a, b) => a.seq - b.seq);
    return all.slice(-limit);
  }
  async readState(conversationId: string): Promise<ReadState> {
    return this.reads.get(conversationId) ?? { read_seq: 0, peer_read_seq: 0 };
  }
  async putReadState(conversationId: string, state: ReadState): Promise<void> {
    this.reads.set(conversationId, { ...state });
  }
  async clearConversation(conversationId: string): Promise<void> {
    for (const [id, m] of this.cached) if (m.conversation_id === conversationId) this.cached.delete(id);
    this.reads.delete(conversationId);
  }
  close(): void {}
}
