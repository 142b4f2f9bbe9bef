/** The package's module entry: classes, the client and the protocol, with no side effects (nothing is registered). */
export { LiveChatElement } from './ui/live-chat-element.js';
export { defineLiveChat } from './ui/define.js';
// Also what brings the events' types (HTMLElementEventMap) to an importer's TypeScript.
export type { LiveChatEventDetails, LiveChatEventName } from './ui/events.js';
export * from './client/index.js';
export { IdbChatStore, MemoryChatStore, openChatStore, type ChatStore, type OutboxEntry, type ReadState } from './outbox/index.js';
export * from './protocol/index.js';
