import type { ChatStore } from './chat-store.js';
import { IdbChatStore } from './idb-chat-store.js';
import { MemoryChatStore } from './memory-chat-store.js';

/**
 * IndexedDB when it works, memory when it does not: opening, or a first write, can fail in
 * private modes and in-app browsers, and the widget must keep working there (with a warning).
 */
export async function openChatStore(name = 'live-chat'): Promise<ChatStore> {
  try {
    const store = await IdbChatStore.open(name);
    await store.checkWritable(); // some browsers open the database and then refuse writes
    return store;
  } catch {
    return new MemoryChatStore();
  }
}
