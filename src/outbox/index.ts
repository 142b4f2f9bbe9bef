export type { ChatStore, OutboxEntry, ReadState } from './chat-store.js';
export { nextQueuedAt } from './chat-store.js';
export { IdbChatStore } from './idb-chat-store.js';
export { MemoryChatStore } from './memory-chat-store.js';
export { openChatStore } from './open-chat-store.js';
