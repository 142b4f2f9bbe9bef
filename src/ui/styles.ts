import { css } from 'lit';

/** The dark palette, for theme="dark" and for theme="auto" on a dark system. */
const dark = css`
    --live-chat-bg: #111827;
    --live-chat-fg: #f3f4f6;
    --live-chat-muted: #9ca3af;
    --live-chat-border: #374151;
    --live-chat-bubble-other: #1f2937;
    --live-chat-warning-bg: #422006;
    --live-chat-warning-fg: #fde68a;
    --live-chat-error: #fca5a5;
    /* The accent lightened: readable on the dark panel, and still the page's accent when it sets its own. */
    --live-chat-accent-text: color-mix(in srgb, var(--live-chat-accent), #fff 35%);
    color-scheme: dark;
`;

/**
 * Every colour, size and font is a custom property with its default on :host, so a site themes
 * the widget from outside the shadow root; the main pieces are also exposed as ::part().
 * Logical properties (inline-start/end) throughout, so right-to-left layouts work.
 */
export const styles = css`
  :host {
    --live-chat-accent: #2563eb;
    --live-chat-on-accent: #ffffff;
    --live-chat-accent-text: var(--live-chat-accent);
    --live-chat-bg: #ffffff;
    --live-chat-fg: #111827;
    --live-chat-muted: #6b7280;
    --live-chat-border: #e5e7eb;
    --live-chat-bubble-own: var(--live-chat-accent);
    --live-chat-bubble-own-fg: var(--live-chat-on-accent);
    --live-chat-bubble-other: #f3f4f6;
    --live-chat-bubble-other-fg: var(--live-chat-fg);
    --live-chat-warning-bg: #fef3c7;
    --live-chat-warning-fg: #78350f;
    --live-chat-error: #b91c1c;
    --live-chat-badge-bg: #b91c1c;
    --live-chat-badge-fg: #ffffff;
    --live-chat-font: 15px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Noto Sans Thai', 'Noto Sans JP', sans-serif;
    --live-chat-radius: 16px;
    --live-chat-width: 380px;
    --live-chat-height: 600px;
    --live-chat-launcher-size: 56px;
    --live-chat-offset: 20px;
    --live-chat-z-index: 2147483000;
    --live-chat-shadow: 0 12px 40px rgb(0 0 0 / 0.18);
    display: block;
    font: var(--live-chat-font);
    color: var(--live-chat-fg);
    color-scheme: light;
  }
  :host([theme='dark']) {
    ${dark}
  }
  @media (prefers-color-scheme: dark) {
    :host([theme='auto']) {
      ${dark}
    }
  }
  :host([mode='inline']) {
    height: 100%;
    min-height: 0;
  }
  [hidden] {
    display: none !important;
  }
  button {
    font: inherit;
    cursor: pointer;
  }
  :focus-visible {
    outline: 3px solid var(--live-chat-accent);
    outline-offset: 2px;
  }
  /* On the accent itself (the header, own bubbles) the ring takes the colour drawn on it. */
  .header :focus-visible,
  .own .bubble a:focus-visible {
    outline-color: var(--live-chat-on-accent);
  }
  .visually-hidden {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip-path: inset(50%);
    white-space: nowrap;
  }

  .launcher {
    position: fixed;
    inset-block-end: calc(var(--live-chat-offset) + env(safe-area-inset-bottom, 0px));
    inset-inline-end: var(--live-chat-offset);
    z-index: var(--live-chat-z-index);
    width: var(--live-chat-launcher-size);
    height: var(--live-chat-launcher-size);
    border: 0;
    border-radius: 50%;
    background: var(--live-chat-accent);
    color: var(--live-chat-on-accent);
    box-shadow: var(--live-chat-shadow);
    display: grid;
    place-items: center;
  }
  .launcher svg {
    width: 28px;
    height: 28px;
    fill: currentColor;
  }
  .badge {
    position: absolute;
    inset-block-start: -4px;
    inset-inline-end: -4px;
    min-width: 22px;
    height: 22px;
    padding: 0 6px;
    box-sizing: border-box;
    border-radius: 11px;
    background: var(--live-chat-badge-bg);
    color: var(--live-chat-badge-fg);
    font-size: 12px;
    font-weight: 600;
    line-height: 22px;
    text-align: center;
  }

  .panel {
    display: flex;
    flex-direction: column;
    background: var(--live-chat-bg);
    color: var(--live-chat-fg);
    overflow: hidden;
    box-sizing: border-box;
  }
  /* Fills its container; in one without a height (a bare LIFF page) it stops at the screen's, and the list scrolls. */
  .panel.inline {
    height: 100%;
    max-height: 100dvh;
  }
  .panel.floating {
    position: fixed;
    z-index: var(--live-chat-z-index);
    inset-block-end: calc(var(--live-chat-offset) * 2 + var(--live-chat-launcher-size));
    /* Placed by the page's direction, like the launcher, not by the panel's own (a lang given may set that). */
    right: var(--live-chat-offset);
    width: var(--live-chat-width);
    height: min(var(--live-chat-height), calc(100vh - 120px));
    border-radius: var(--live-chat-radius);
    box-shadow: var(--live-chat-shadow);
    border: 1px solid var(--live-chat-border);
    transform-origin: bottom right;
    animation: pop 160ms ease-out;
  }
  :host(:dir(rtl)) .panel.floating {
    right: auto;
    left: var(--live-chat-offset);
    transform-origin: bottom left;
  }
  /* An explicit position is physical, whatever the page's direction; without one, the end of the page's. */
  :host([position='right']) .launcher,
  :host([position='right']) .panel.floating {
    inset-inline: auto;
    right: var(--live-chat-offset);
    transform-origin: bottom right;
  }
  :host([position='left']) .launcher,
  :host([position='left']) .panel.floating {
    inset-inline: auto;
    left: var(--live-chat-offset);
    transform-origin: bottom left;
  }
  @keyframes pop {
    from {
      opacity: 0;
      transform: translateY(8px) scale(0.98);
    }
  }
  @media (prefers-reduced-motion: reduce) {
    .panel.floating {
      animation: none;
    }
    .messages {
      scroll-behavior: auto;
    }
  }
  /*
   * Phones, and screens too short for a floating panel (a phone turned sideways, a desktop at 200%
   * zoom): the whole screen, above the on-screen keyboard (height follows visualViewport).
   * The same query as FULL_SCREEN in live-chat-element.ts.
   */
  @media (max-width: 480px), (max-height: 520px) {
    .panel.floating,
    :host([position]) .panel.floating {
      inset: 0;
      width: 100%;
      height: var(--live-chat-viewport-height, 100dvh);
      border-radius: 0;
      border: 0;
    }
    /* A rule of its own: a browser without :dir() drops a whole rule that names it. */
    :host(:dir(rtl)) .panel.floating {
      inset: 0;
    }
    /* Under the full-screen panel: out of sight, so out of the tab order too (the panel has its own close button). */
    :host([open]) .launcher {
      display: none;
    }
  }

  .header {
    display: flex;
    align-items: center;
    gap: 12px;
    padding: 12px 16px;
    padding-block-start: calc(12px + env(safe-area-inset-top, 0px));
    background: var(--live-chat-accent);
    color: var(--live-chat-on-accent);
  }
  .header h2 {
    margin: 0;
    font-size: 16px;
    font-weight: 600;
  }
  .heading {
    flex: 1;
    min-width: 0;
  }
  .connection {
    font-size: 12px;
  }
  .icon-button {
    border: 0;
    background: transparent;
    color: inherit;
    width: 40px;
    height: 40px;
    border-radius: 50%;
    display: grid;
    place-items: center;
  }
  .icon-button svg {
    width: 20px;
    height: 20px;
    fill: currentColor;
  }

  /* The widget's own words take their direction from themselves: an English sentence keeps its full stop at its end on a right-to-left page. */
  .heading,
  .connection,
  .notice span,
  .older,
  .typing,
  .meta,
  .divider,
  .composer-error p {
    unicode-bidi: plaintext;
  }

  .notice {
    display: flex;
    gap: 8px;
    align-items: center;
    justify-content: space-between;
    padding: 8px 16px;
    background: var(--live-chat-warning-bg);
    color: var(--live-chat-warning-fg);
    font-size: 13px;
  }
  .notice button,
  .retry {
    flex-shrink: 0; /* the notice's text wraps; the button's word stays whole (再接続 broke in two) */
    white-space: nowrap;
    border: 1px solid currentColor;
    background: transparent;
    color: inherit;
    border-radius: 999px;
    padding: 2px 10px;
    font-size: 13px;
  }

  /* Stays at the bottom of the list in sight while the reader is scrolled up. */
  .jump {
    position: sticky;
    bottom: 4px;
    align-self: center;
    border: 0;
    border-radius: 999px;
    padding: 4px 12px;
    background: var(--live-chat-accent);
    color: var(--live-chat-on-accent);
    font: inherit;
    font-size: 13px;
    box-shadow: var(--live-chat-shadow);
    cursor: pointer;
  }

  .messages {
    position: relative; /* its visually hidden parts stay inside its clipping */
    flex: 1;
    min-height: 0;
    overflow-y: auto;
    overscroll-behavior: contain;
    padding: 12px 16px;
    display: flex;
    flex-direction: column;
    gap: 2px;
  }
  /* Inside: the panel clips what lies outside it. */
  .messages:focus-visible {
    outline-offset: -3px;
  }
  .older,
  .typing {
    color: var(--live-chat-muted);
    font-size: 13px;
    text-align: center;
    padding: 4px;
  }
  .typing {
    text-align: start;
    min-height: 1.4em;
    padding: 0 16px 4px;
  }
  .group {
    display: flex;
    flex-direction: column;
    align-items: flex-start;
    gap: 2px;
    margin-block-start: 10px;
  }
  .group.own {
    align-items: flex-end;
  }
  .sender {
    font-size: 12px;
    color: var(--live-chat-muted);
    margin-inline: 8px;
  }
  .bubble {
    max-width: 80%;
    padding: 8px 12px;
    border-radius: var(--live-chat-radius);
    background: var(--live-chat-bubble-other);
    color: var(--live-chat-bubble-other-fg);
    white-space: pre-wrap;
    overflow-wrap: anywhere;
  }
  .own .bubble {
    background: var(--live-chat-bubble-own);
    color: var(--live-chat-bubble-own-fg);
  }
  /* Not faded: faded text fails 4.5:1. The status line below says it waits; the outline shows it. */
  .own .bubble.pending {
    outline: 2px dashed var(--live-chat-bubble-own);
    outline-offset: 2px;
  }
  .bubble a {
    color: inherit;
    text-decoration: underline;
  }
  .meta {
    font-size: 11px;
    color: var(--live-chat-muted);
    margin-inline: 8px;
    display: flex;
    gap: 6px;
    align-items: center;
  }
  .meta .failed {
    color: var(--live-chat-error);
  }
  .divider {
    display: flex;
    align-items: center;
    gap: 8px;
    color: var(--live-chat-accent-text);
    font-size: 12px;
    margin-block: 8px;
  }
  .divider::before,
  .divider::after {
    content: '';
    flex: 1;
    border-block-start: 1px solid currentColor;
  }

  .composer-error {
    color: var(--live-chat-error);
    font-size: 13px;
    padding: 8px 16px 0;
  }
  .composer-error:empty {
    padding: 0;
  }
  .composer-error p {
    margin: 0;
  }

  form {
    display: flex;
    gap: 8px;
    align-items: flex-end;
    padding: 10px 12px;
    padding-block-end: calc(10px + env(safe-area-inset-bottom, 0px));
    border-block-start: 1px solid var(--live-chat-border);
  }
  textarea {
    flex: 1;
    resize: none;
    /* 16 px: iOS zooms into any smaller field. */
    font: 16px/1.4 system-ui, sans-serif;
    font-family: inherit;
    padding: 8px 12px;
    border: 1px solid var(--live-chat-border);
    border-radius: 20px;
    background: var(--live-chat-bg);
    color: var(--live-chat-fg);
    max-height: 140px;
    field-sizing: content;
    min-height: 40px;
    box-sizing: border-box;
  }
  .send {
    border: 0;
    border-radius: 50%;
    width: 40px;
    height: 40px;
    background: var(--live-chat-accent);
    color: var(--live-chat-on-accent);
    display: grid;
    place-items: center;
    flex: none;
  }
  .send svg {
    width: 20px;
    height: 20px;
    fill: currentColor;
  }
  /* Two rules: a browser without :dir() drops a whole rule that names it. */
  .panel[dir='rtl'] .send svg {
    transform: scaleX(-1);
  }
  :host(:dir(rtl)) .panel:not([dir='ltr']) .send svg {
    transform: scaleX(-1);
  }
`;
