/** Entry of the script-tag bundle (dist/live-chat.js): loading it registers `<live-chat>`. */
import { defineLiveChat } from './define.js';

defineLiveChat();

// Types only (nothing at run time): an importer of this entry gets `<live-chat>` and its events typed.
export type { LiveChatElement } from './live-chat-element.js';
export type { defineLiveChat } from './define.js';
export type { LiveChatEventDetails, LiveChatEventName } from './events.js';
