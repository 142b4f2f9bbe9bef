import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { newMessageId, type ChatMessage } from '../protocol/index.js';
import type { ChatStore, OutboxEntry, ReadState } from './chat-store.js';

interface ChatDB extends DBSchema {
  outbox: { key: string; value: OutboxEntry; indexes: { 'by-conversation': [string, number] } };
  messages: { key: string; value: ChatMessage; indexes: { 'by-conversation': [string, number] } };
  meta: { key: string; value: string | ReadState };
}

const DB_VERSION = 1;
const DEVICE_KEY = 'device_id';
const readKey = (conversationId: string) => `read:${conversationId}`;
const range = (conversationId: string) => IDBKeyRange.bound([conversationId, -Infinity], [conversationId, Infinity]);

/** The outbox and the conversation cache in IndexedDB, shared by every tab of the browser profile. */
export class IdbChatStore implements ChatStore {
  readonly persistent = true;

  private constructor(private readonly db: IDBPDatabase<ChatDB>) {}

  /** Opens (or creates) the database; rejects where IndexedDB is missing or refuses. */
  static async open(name: string): Promise<IdbChatStore> {
    if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available');
    const db = await openDB<ChatDB>(name, DB_VERSION, {
      upgrade(database) {
        database.createObjectStore('outbox', { keyPath: 'message_id' }).createIndex('by-conversation', ['conversation_id', 'queued_at']);
        database.createObjectStore('messages', { keyPath: 'message_id' }).createIndex('by-conversation', ['conversation_id', 'seq']);
        database.createObjectStore('meta');
      },
      // A newer version of the widget in another tab wants to upgrade: let it.
      blocking() {
        db.close();
      },
    });
    return new IdbChatStore(db);
  }

  /** Writes and removes a key: throws where the browser opens the database but refuses writes. */
  async checkWritable(): Promise<void> {
    const tx = this.db.transaction('meta', 'readwrite');
    await tx.store.put('yes', 'writable');
    await tx.store.delete('writable');
    await tx.done;
  }

  async deviceId(conversationId: string): Promise<string> {
    const key = `${DEVICE_KEY}:${conversationId}`;
    const tx = this.db.transaction('meta', 'readwrite');
    const existing = await tx.store.get(key);
    if (typeof existing === 'string') return existing;
    const id = newMessageId();
    await tx.store.put(id, key);
    await tx.done;
    return id;
  }

  async putOutbox(entry: OutboxEntry): Promise<void> {
    await this.db.put('outbox', entry);
  }

  async outbox(conversationId: string): Promise<OutboxEntry[]> {
    return this.db.getAllFromIndex('outbox', 'by-conversation', range(conversationId));
  }

  async removeOutbox(messageId: string): Promise<void> {
    await this.db.delete('outbox', messageId);
  }

  async putMessages(messages: readonly ChatMessage[]): Promise<void> {
    if (!messages.length) return;
    const tx = this.db.transaction('messages', 'readwrite');
    await Promise.all([...messages.map((m) => tx.store.put(m)), tx.done]);
  }

  async messages(conversationId: string, limit: number): Promise<ChatMessage[]> {
    const out: ChatMessage[] = [];
    let cursor = await this.db.transaction('messages').store.index('by-conversation').openCursor(range(conversationId), 'prev');
    while (cursor && out.length < limit) {
      out.push(cursor.value);
      cursor = await cursor.continue();
    }
    return out.reverse();
  }

  async readState(conversationId: string): Promise<ReadState> {
    const state = await this.db.get('meta', readKey(conversationId));
    return typeof state === 'object' ? state : { read_seq: 0, peer_read_seq: 0 };
  }

  async putReadState(conversationId: string, state: ReadState): Promise<void> {
    await this.db.put('meta', state, readKey(conversationId));
  }

  async clearConversation(conversationId: string): Promise<void> {
    const tx = this.db.transaction(['messages', 'meta'], 'readwrite');
    let cursor = await tx.objectStore('messages').index('by-conversation').openKeyCursor(range(conversationId));
    while (cursor) {
      await tx.objectStore('messages').delete(cursor.primaryKey);
      cursor = await cursor.continue();
    }
    await tx.objectStore('meta').delete(readKey(conversationId));
    await tx.done;
  }

  close(): void {
    this.db.close();
  }
}
