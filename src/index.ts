/** The package's module entry: classes and the protocol, with no side effects (nothing is registered). */
export { LiveChatElement } from './ui/live-chat-element.js';
export { defineLiveChat } from './ui/define.js';
export * from './protocol/index.js';
