import { LiveChatElement } from './live-chat-element.js';

/** Registers `<live-chat>` once: a page that loads the script twice must not throw. */
export function defineLiveChat(tagName = 'live-chat'): void {
  if (!customElements.get(tagName)) customElements.define(tagName, class extends LiveChatElement {});
}

declare global {
  interface HTMLElementTagNameMap {
    'live-chat': LiveChatElement;
  }
}
