import { LitElement, css, html } from 'lit';

/**
 * `<live-chat>`: the embeddable chat widget.
 *
 * Placeholder until the UI lands (issue "The <live-chat> element"): it renders its frame and
 * reflects the attributes the embedding contract names, so the bundle, registration and size
 * budget can be built and tested now.
 */
export class LiveChatElement extends LitElement {
  static override properties = {
    serverUrl: { type: String, attribute: 'server-url' },
  };

  static override styles = css`
    :host {
      display: block;
      font: var(--live-chat-font, 16px system-ui, sans-serif);
    }
  `;

  declare serverUrl: string | undefined;

  protected override render() {
    return html`<div part="panel" role="region" aria-label="Chat">live-chat</div>`;
  }
}
