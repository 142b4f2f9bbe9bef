import type { ClientMessage, ConnectionState } from '../client/index.js';

/** The element's events: bubbling and composed, so a page hears them from outside the shadow root. */
export interface LiveChatEventDetails {
  'live-chat-status': { status: ConnectionState };
  'live-chat-message': { message: ClientMessage };
  /** `message_id`: the message a refusal or a failed send concerns, when there is one. */
  'live-chat-error': { code: number; message: string; message_id?: string };
  'live-chat-open': Record<string, never>;
  'live-chat-close': Record<string, never>;
  'live-chat-unread': { count: number };
}

export type LiveChatEventName = keyof LiveChatEventDetails;

export function dispatch<K extends LiveChatEventName>(target: EventTarget, name: K, detail: LiveChatEventDetails[K]): void {
  target.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
}

declare global {
  interface HTMLElementEventMap {
    'live-chat-status': CustomEvent<LiveChatEventDetails['live-chat-status']>;
    'live-chat-message': CustomEvent<LiveChatEventDetails['live-chat-message']>;
    'live-chat-error': CustomEvent<LiveChatEventDetails['live-chat-error']>;
    'live-chat-open': CustomEvent<LiveChatEventDetails['live-chat-open']>;
    'live-chat-close': CustomEvent<LiveChatEventDetails['live-chat-close']>;
    'live-chat-unread': CustomEvent<LiveChatEventDetails['live-chat-unread']>;
  }
}
