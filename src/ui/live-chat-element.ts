import { LitElement, html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { keyed } from 'lit/directives/keyed.js';
import type { ClientError, ClientMessage, ConnectionState, TokenProvider } from '../client/index.js';
import { NoToken, readClaims } from '../client/token.js';
import { ErrorCode, MAX_CONTENT_CHARS, TYPING_THROTTLE_MS, codePointLength, contentProblem, sendFits } from '../protocol/index.js';
import { ChatController } from './chat-controller.js';
import { dispatch } from './events.js';
import { format, isRtl, pickStrings, type Strings } from './i18n.js';
import { linkify } from './linkify.js';
import { styles } from './styles.js';

/** At most this many messages are in the DOM; scrolling moves the window (10,000-message histories stay smooth). */
const WINDOW = 150;
const WINDOW_STEP = 50;
/** Messages from one sender closer than this share a group (one name, one time). */
const GROUP_GAP_MS = 5 * 60_000;
/** Distance from an edge of the list, in px, that counts as being at it. */
const EDGE_PX = 48;
const TYPING_REPEAT_MS = 2500;
const TYPING_IDLE_MS = 3000;
/** The server times its second between two "typing" by when they arrive, and one can travel faster than the one before it. */
const TYPING_THROTTLE_MARGIN_MS = 250;
/** States of an attempt to connect under way. */
const TRYING: readonly ConnectionState[] = ['connecting', 'authenticating', 'joining', 'reconnecting'];

const ICON_CHAT = html`<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z" /></svg>`;
const ICON_CLOSE = html`<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z" /></svg>`;
const ICON_SEND = html`<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M3 20.5V14l9-2-9-2V3.5L22 12z" /></svg>`;

/** Whether two tokens name the same user (false when either is not a readable JWT). */
function sameSubject(a: string | undefined, b: string): boolean {
  try {
    return a !== undefined && readClaims(a).sub === readClaims(b).sub;
  } catch {
    return false;
  }
}

/** Where the launcher's panel covers the whole screen: the same query as in styles.ts. */
const FULL_SCREEN = '(max-width: 480px), (max-height: 520px)';

/**
 * Resolves once the page's DOMContentLoaded listeners have run. Deferred scripts (the bundle among
 * them) run before that event, while readyState already says 'interactive': the navigation's
 * timing tells whether it has fired.
 */
function pageReady(): Promise<void> | void {
  const navigation = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
  const fired = document.readyState === 'complete' || (document.readyState === 'interactive' && (!navigation || navigation.domContentLoadedEventEnd > 0));
  if (!fired) return new Promise((done) => document.addEventListener('DOMContentLoaded', () => setTimeout(done), { once: true }));
}

/**
 * `<live-chat>`: the embeddable chat widget.
 *
 * @attr server-url - the chat server's WebSocket URL (required)
 * @attr token - a JWT; read once and removed from the DOM (prefer the `tokenProvider` property)
 * @attr conversation-id - defaults to the token's `sub` (an end user's own conversation)
 * @attr mode - `launcher` (a floating bubble that opens a panel; default) or `inline` (fills its container)
 * @attr open - whether the launcher's panel is open
 * @attr theme - `light` (default), `dark` or `auto`
 * @attr position - `right` or `left`; by default the end of the page's reading direction (right, or left on a right-to-left page)
 * @attr lang - the language of the widget's words (default: the browser's)
 * @attr title - the panel's heading
 * @attr placeholder - the composer's placeholder
 *
 * @fires live-chat-status - `detail.status`: the connection state changed
 * @fires live-chat-message - `detail.message`: a new message (incoming, older history, or written here)
 * @fires live-chat-error - `detail.code`, `detail.message`
 * @fires live-chat-open - the panel opened
 * @fires live-chat-close - the panel closed
 * @fires live-chat-unread - `detail.count`: messages from others not yet seen
 *
 * @csspart launcher - the floating bubble
 * @csspart badge - the unread count on it
 * @csspart panel - the chat panel
 * @csspart header - its heading bar
 * @csspart status - the connection status in the header
 * @csspart notice - a warning bar (offline, disconnected, session expired, storage)
 * @csspart messages - the scrolling message list
 * @csspart message - one message bubble
 * @csspart jump - the "N unread ↓" button while the reader is scrolled up
 * @csspart typing - the typing indicator
 * @csspart composer - the form with the text field and send button
 *
 * @cssproperty --live-chat-accent, --live-chat-on-accent, --live-chat-accent-text, --live-chat-badge-bg, --live-chat-badge-fg, --live-chat-bg, --live-chat-fg, --live-chat-muted,
 *   --live-chat-border, --live-chat-bubble-own, --live-chat-bubble-own-fg, --live-chat-bubble-other,
 *   --live-chat-bubble-other-fg, --live-chat-warning-bg, --live-chat-warning-fg, --live-chat-error,
 *   --live-chat-font, --live-chat-radius, --live-chat-width, --live-chat-height, --live-chat-launcher-size,
 *   --live-chat-offset, --live-chat-z-index, --live-chat-shadow
 */
export class LiveChatElement extends LitElement {
  static override properties = {
    serverUrl: { type: String, attribute: 'server-url' },
    conversationId: { type: String, attribute: 'conversation-id' },
    mode: { type: String, reflect: true },
    opened: { type: Boolean, attribute: 'open', reflect: true },
    theme: { type: String, reflect: true },
    position: { type: String, reflect: true },
    language: { type: String, attribute: 'lang' },
    placeholder: { type: String },
    tokenProvider: { attribute: false },
    heading: { state: true },
    windowStart: { state: true },
    windowEnd: { state: true },
    announcement: { state: true },
    composerError: { state: true },
    slowDown: { state: true },
  };

  static override styles = styles;

  /** `title` and `token` are taken from the DOM when set, not left there (a tooltip; a secret). */
  static override get observedAttributes(): string[] {
    return [...super.observedAttributes, 'title', 'token'];
  }

  declare serverUrl: string | undefined;
  declare conversationId: string | undefined;
  declare mode: 'launcher' | 'inline';
  declare opened: boolean;
  declare theme: 'light' | 'dark' | 'auto';
  declare position: 'right' | 'left' | undefined;
  declare language: string | undefined;
  declare placeholder: string | undefined;
  /** Preferred over the `token` attribute: called for a token, and again when the server refuses one. */
  declare tokenProvider: TokenProvider | undefined;
  declare heading: string | undefined;
  declare windowStart: number;
  declare windowEnd: number | undefined;
  declare announcement: readonly string[];
  /** Why the composer's text was not sent (too long, characters that cannot be sent), until it is edited. */
  declare composerError: string;
  /** The server asked for a pause (4008): messages written meanwhile wait. */
  declare slowDown: boolean;

  private token: string | undefined;
  /** The `token` value last handed to the client: the same one is not offered again after a refusal. */
  private usedToken: string | undefined;
  /** A provider asked for a token that has not answered yet. */
  private askedProvider: TokenProvider | undefined;
  /** A fresh start was asked for while the element was off the page for a moment (a token for another user, say). */
  private restartWhenBack = false;
  /** Own messages whose failure was said. */
  private readonly saidFailed = new Set<string>();
  /** Messages written here whose live-chat-message has fired (send() fires it if a switch got in the way). */
  private readonly heardOwn = new Set<string>();
  /** The server URL and conversation the running client was started for. */
  private chatKey: string | undefined;
  /** The server URL and conversation the view's state (read position, scroll, draft) belongs to; kept while off the page. */
  private viewKey: string | undefined;
  private readonly chat = new ChatController(this, {
    ready: () => this.chatReady(),
    message: (message) => this.received(message),
    status: (status) => this.statusChanged(status),
    error: (error) => this.serverRefused(error),
    reset: () => this.chatReset(),
    seen: (seq) => this.seenElsewhere(seq),
    failed: (message) => this.sendFailed(message),
  });
  private lastStatus: ConnectionState = 'idle';
  /** The last state that was not an attempt under way. */
  private lastSettled: ConnectionState = 'idle';
  /** A button in the panel had the focus before this render (a notice's Reconnect, a Retry): it may be gone after it. */
  private panelHadFocus = false;
  /** Whether the cached conversation has loaded (what came before is not news). */
  private loaded = false;
  /** The composer was sent before the client knew who writes (no outbox to keep it in yet): it goes once it does. */
  private sendWhenReady = false;
  /**
   * Messages above this seq are news. Fixed once known: the newest cached message, or on a
   * device with nothing cached, the conversation's newest when it first joined.
   */
  private newsAfterSeq: number | undefined;
  /** Follow new messages (the reader is at the bottom). */
  private pinned = true;
  private anchor: { id: string; offset: number } | undefined;
  /** The highest seq from others the reader has seen; what is above it is unread. */
  private seenSeq = 0;
  private unread = 0;
  private dividerSeq: number | undefined;
  /**
   * Until the first join after loading: how far the reader had read (here, or elsewhere as the join says). A view
   * open from the start (inline, an agent's, a LIFF page's) marks what came after it, as opening the panel does.
   */
  private readBefore: number | undefined;
  private announceAfterSeq = Number.POSITIVE_INFINITY;
  /** How many times the live region was started afresh: its nodes are new each time. */
  private announced = 0;
  /** Messages to announce in the next render: several arrive at once after a spell offline. */
  private toAnnounce: string[] = [];
  /** How many times the composer refused its text: each refusal is said again, even in the same words. */
  private composerErrors = 0;
  /** What was in the composer when the panel closed: it is there again when it opens. */
  private draft = '';
  private typingOn = false;
  /** performance.now() of the last "typing" sent: a wall clock set back must not hold the next one. */
  private typingSentAt = -Infinity;
  private typingIdle: ReturnType<typeof setTimeout> | undefined;
  /** A "typing" held back until the server's second between two is over (it would drop one sent sooner). */
  private typingSoon: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    super();
    this.mode = 'launcher';
    this.opened = false;
    this.theme = 'light';
    this.windowStart = 0;
    this.windowEnd = undefined;
    this.announcement = [];
    this.composerError = '';
    this.slowDown = false;
  }

  override attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    if (name === 'title' || name === 'token') {
      if (value === null) return;
      this.removeAttribute(name);
      if (name === 'title') this.heading = value || undefined; // an empty title would leave the dialog without a name
      else this.tokenChanged(value);
      this.requestUpdate();
      return;
    }
    super.attributeChangedCallback(name, old, value);
  }

  // ---- public methods ----

  /** Opens the panel (launcher mode) and puts the focus in the composer. */
  open(): void {
    this.setOpen(true);
  }

  /** Closes the panel and returns the focus to the launcher. */
  close(): void {
    this.setOpen(false);
  }

  toggle(): void {
    this.setOpen(!this.opened);
  }

  /** Writes a message; resolves once it is in the outbox (before the network). */
  async send(text: string) {
    this.connectChat(); // attributes set in this same task have not been rendered yet
    const { client } = this.chat;
    if (!client) throw new Error('live-chat is not connected: put it on the page with server-url and a token (or tokenProvider) first');
    const message = await client.send(text);
    // Removed or switched while it was written: it waits in that conversation's outbox, and the page still hears of it.
    if (!this.heardOwn.has(message.message_id)) dispatch(this, 'live-chat-message', { message });
    return message;
  }

  /** Tries again now; also gets a client that could not start (its token was unreadable) going with the current token or provider. */
  reconnect(): void {
    if (this.chat.client && !this.chat.failed) this.chat.client.reconnect();
    else this.connectChat(true);
  }

  /** The connection's state (as the last live-chat-status event said). */
  get status(): ConnectionState {
    return this.chat.state;
  }

  // ---- lifecycle ----

  private get strings(): Strings {
    return this.locale.strings;
  }

  private get locale() {
    return pickStrings([this.language, ...(typeof navigator === 'undefined' ? [] : navigator.languages)]);
  }

  private get isOpen(): boolean {
    return this.mode === 'inline' || this.opened;
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    this.connectChat();
    if (changed.has('tokenProvider') && this.tokenProvider) this.providerChanged();
    // Opened and closed again before this render (open(); close()), the panel never changed: no event.
    if (changed.has('opened') && changed.get('opened') !== undefined && changed.get('opened') !== this.opened) this.openedChanged();
    this.noteSeen(); // here, not in updated(): the unread count it changes goes out in this render, not another
    this.rememberAnchor();
    if (this.slowDown && !this.waitingToSend) this.slowDown = false; // one notice while they wait, not one a refusal
    if (this.toAnnounce.length) {
      // Added after what the region holds, not in its place: messages a moment apart are each said, in order.
      // A fresh region only when it is full: one started while the last added has not been shown yet would lose it.
      const kept = this.announcement.length + this.toAnnounce.length > 20 ? [] : this.announcement;
      if (!kept.length) this.announced++;
      this.announcement = [...kept, ...this.toAnnounce.slice(-5)];
      this.toAnnounce = [];
    }
    this.panelHadFocus = (this.renderRoot as ShadowRoot).activeElement?.closest('.panel') != null;
  }

  /** Own messages not yet stored, failed ones apart (they wait for the user, not the server). Unsent ones sort last. */
  private get waitingToSend(): boolean {
    const messages = this.chat.messages;
    for (let i = messages.length - 1; i >= 0 && messages[i]!.seq === undefined; i--) if (messages[i]!.status !== 'failed') return true;
    return false;
  }

  protected override firstUpdated(): void {
    // Open from the start (the `open` attribute): the page hears it, but the focus stays where it is,
    // since a widget must not take the focus from the page it loads on.
    if (this.mode !== 'inline' && this.opened) dispatch(this, 'live-chat-open', {});
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.requestUpdate(); // moved: the list is observed again in updated()
    window.visualViewport?.addEventListener('resize', this.viewportChanged);
    this.narrow ??= matchMedia(FULL_SCREEN);
    this.narrow.addEventListener('change', this.narrowChanged);
    document.addEventListener('visibilitychange', this.visibilityChanged);
    window.addEventListener('online', this.wentOnline);
    this.connectChat();
    // A page that left out server-url or the token hears why nothing connects. In time, and so not told: its
    // script setting them in this same task, or, while the page loads, in a DOMContentLoaded listener (those
    // run after a deferred bundle has upgraded the element).
    void this.updateComplete.then(pageReady).then(() => {
      if (!this.isConnected || this.chat.client) return;
      dispatch(this, 'live-chat-error', { code: 0, message: `live-chat needs ${this.serverUrl ? 'a token attribute or a tokenProvider' : 'a server-url attribute'}` });
    });
  }

  /**
   * Starts the connection once the element is on the page with a server URL and a token or
   * provider, and starts it afresh when `server-url` or `conversation-id` change (an agent view
   * switching conversations) or when `restart` says so. Synchronous, so `send()` works right
   * after the element is added.
   */
  private connectChat(restart = false): void {
    if (!this.isConnected) {
      this.restartWhenBack ||= restart; // off the page for a moment (moved): its client is still there, and must start over
      return;
    }
    if (!this.serverUrl || !(this.token || this.tokenProvider)) return;
    restart ||= this.restartWhenBack;
    this.restartWhenBack = false;
    const key = `${this.serverUrl} ${this.conversationId ?? ''}`;
    if (this.chat.client && key === this.chatKey && !restart) return;
    if (this.chat.client) {
      this.setTyping(false); // the other side must not see "typing" for good
      this.chat.stop(key !== this.chatKey);
      const settled = this.lastSettled;
      this.statusChanged('idle');
      // The same conversation tried again (Reconnect, a new token): its notice stays until that try settles.
      if (key === this.chatKey) this.lastSettled = settled;
    }
    this.loaded = false;
    this.newsAfterSeq = undefined;
    if (key !== this.viewKey) this.forgetView();
    this.chatKey = this.viewKey = key;
    this.usedToken = undefined;
    this.chat.start({ url: this.serverUrl, tokenProvider: this.provideToken, conversationId: this.conversationId });
  }

  /** What the client calls for a token: the provider when one is set (whenever it was set), else the `token` attribute. */
  private readonly provideToken = async (): Promise<string> => {
    const provider = this.tokenProvider;
    if (provider) {
      this.askedProvider = provider;
      try {
        return await provider();
      } finally {
        if (this.askedProvider === provider) this.askedProvider = undefined;
      }
    }
    if (!this.token || this.token === this.usedToken) throw new NoToken('the token was refused and there is no other: set a new token attribute or a tokenProvider');
    return (this.usedToken = this.token);
  };

  /**
   * A new provider is asked from the next token on. A client that has no session to keep (its
   * token was refused or unreadable, or an older provider has not answered) starts over with it.
   */
  private providerChanged(): void {
    const waiting = this.askedProvider !== undefined && this.askedProvider !== this.tokenProvider;
    if (this.chat.client && (waiting || this.chat.failed || this.chat.state === 'auth-failed')) this.connectChat(true);
  }

  /** A new `token` attribute: another user means another conversation; the same user may use it to get out of auth-failed. */
  private tokenChanged(token: string): void {
    const previous = this.token;
    this.token = token;
    if (this.tokenProvider) return; // preferred; the attribute waits
    if (!sameSubject(previous, token)) {
      this.viewKey = undefined; // what the view knew was another user's
      if (this.chat.client) this.connectChat(true);
    } else if (this.chat.state === 'auth-failed' || this.chat.failed) this.reconnect();
  }

  /** Forgets what the view knew of the conversation it showed: it shows another one now. */
  private forgetView(): void {
    this.seenSeq = 0;
    this.dividerSeq = this.readBefore = undefined;
    this.announceAfterSeq = Number.POSITIVE_INFINITY;
    this.toAnnounce = [];
    this.announcement = []; // another conversation's words are not said again with this one's
    this.announced++;
    this.pinned = true;
    this.windowStart = 0;
    this.windowEnd = undefined;
    const input = this.input;
    if (input) input.value = ''; // a draft written to one conversation is not sent to another
    this.draft = '';
    this.sendWhenReady = false;
    this.composerError = '';
    this.setTyping(false);
    this.countUnread();
  }

  override disconnectedCallback(): void {
    // Queued before the controller's, which closes the client: both do nothing if the element is back by then (moved).
    queueMicrotask(() => {
      if (this.isConnected) return;
      this.setTyping(false);
      this.chatKey = undefined;
      this.restartWhenBack = false;
      this.loaded = false;
      this.newsAfterSeq = undefined;
    });
    super.disconnectedCallback();
    window.visualViewport?.removeEventListener('resize', this.viewportChanged);
    this.listResized?.disconnect();
    this.observedList = null;
    this.narrow?.removeEventListener('change', this.narrowChanged);
    document.removeEventListener('visibilitychange', this.visibilityChanged);
    window.removeEventListener('online', this.wentOnline);
    clearTimeout(this.typingIdle);
  }

  protected override updated(): void {
    this.restoreScroll();
    // The button that had the focus is gone (a notice after reconnecting, a Retry once pressed): the focus goes to the
    // composer, not to the page's body.
    const fellTo = document.activeElement;
    if (this.panelHadFocus && !(this.renderRoot as ShadowRoot).activeElement && (!fellTo || fellTo === document.body)) this.input?.focus();
    const list = this.scroller;
    if (list !== this.observedList) {
      this.listResized ??= new ResizeObserver(() => this.listChangedSize());
      this.listResized.disconnect();
      if (list) this.listResized.observe(list);
      this.observedList = list;
      this.listHeight = list?.clientHeight ?? 0;
    }
  }

  private setOpen(open: boolean): void {
    if (this.mode === 'inline' || open === this.opened) return;
    this.opened = open;
  }

  private openedChanged(): void {
    if (this.opened) {
      this.pinned = true;
      this.windowEnd = undefined;
      this.dividerSeq = this.firstUnreadAfter(this.seenSeq);
      this.viewportChanged();
      void this.updateComplete.then(() => {
        const input = this.input;
        if (!input) return;
        input.value ||= this.draft;
        this.growComposer();
        input.focus();
      });
      dispatch(this, 'live-chat-open', {});
    } else {
      this.draft = this.input?.value ?? ''; // before this render takes the composer away
      this.dividerSeq = undefined;
      this.setTyping(false);
      // Back to the launcher only from inside the widget: closed by the page's script, the focus stays where the reader is.
      if (this.matches(':focus-within')) void this.updateComplete.then(() => this.launcher?.focus());
      dispatch(this, 'live-chat-close', {});
    }
  }

  private get input(): HTMLTextAreaElement | null {
    return this.renderRoot.querySelector('textarea');
  }
  private get launcher(): HTMLButtonElement | null {
    return this.renderRoot.querySelector('.launcher');
  }
  private get scroller(): HTMLElement | null {
    return this.renderRoot.querySelector('.messages');
  }

  /** The list's own size changes without a render (the composer growing, the keyboard opening): a reader at the bottom stays there. */
  private listResized: ResizeObserver | undefined;
  private observedList: HTMLElement | null = null;
  private listHeight = 0;
  /** A phone's width (styles.ts: the panel then covers the screen); a change re-renders, so aria-modal follows. */
  private narrow: MediaQueryList | undefined;
  private readonly narrowChanged = () => this.requestUpdate();

  /** Keeps the composer above the on-screen keyboard: the panel's height follows the visual viewport. */
  private readonly viewportChanged = () => {
    const height = window.visualViewport?.height;
    if (height) this.style.setProperty('--live-chat-viewport-height', `${height}px`);
  };

  private readonly visibilityChanged = () => this.noteSeen();
  /** A try from offline may be under way: its notice is "offline" no more. */
  private readonly wentOnline = () => this.requestUpdate();

  // ---- messages, unread, announcements ----

  /** The cached conversation is in: it is not news, but its unread count is. */
  private chatReady(): void {
    this.loaded = true;
    if (this.sendWhenReady) {
      this.sendWhenReady = false; // once: a draft written later is the user's to send
      void this.submit();
    }
    const newest = this.chat.client?.highestSeq ?? 0;
    if (newest) this.newsAfterSeq = newest; // else the join says where news starts
    // The client's read position, not seenSeq: a render of the cache before now may have moved that past the unread.
    this.readBefore = this.chat.client?.readSeq ?? 0;
    this.seenSeq = Math.max(this.seenSeq, this.readBefore);
    this.dividerSeq = undefined; // a client started afresh (put back on the page, say) places it anew
    this.countUnread();
    this.noteSeen();
  }

  private firstUnreadAfter(seq: number): number | undefined {
    return this.chat.messages.find((m) => !m.mine && m.seq !== undefined && m.seq > seq)?.seq;
  }

  /** The server's store was reset: a read position in the old numbering means nothing in the new one. */
  private chatReset(): void {
    this.newsAfterSeq = this.chat.client?.joinedAtSeq ?? this.chat.client?.highestSeq ?? 0;
    this.seenSeq = this.chat.client?.readSeq ?? 0; // the new store's, as the join reports it ('seen')
    this.announceAfterSeq = Number.POSITIVE_INFINITY; // until connected: the new store's page is not news
    this.dividerSeq = this.readBefore = undefined; // positions in the old numbering
    this.countUnread();
  }

  /** A message appeared: news (written here, arriving live, missed while offline) or history (the first page on a new device, older pages). */
  private received(message: ClientMessage): void {
    if (!this.loaded) return; // from the cache; chatReady() counts it
    this.newsAfterSeq ??= this.chat.client?.joinedAtSeq;
    const news = message.seq === undefined || (this.newsAfterSeq !== undefined && message.seq > this.newsAfterSeq);
    if (news) {
      if (message.seq === undefined) this.heardOwn.add(message.message_id);
      dispatch(this, 'live-chat-message', { message });
    }
    if (message.mine || message.seq === undefined) {
      if (news) {
        this.pinned = true; // your own message brings you to the bottom
        if (message.seq === undefined) this.dividerSeq = undefined; // and answers what was new
      }
      return;
    }
    if (message.seq > this.announceAfterSeq) {
      this.announceAfterSeq = message.seq;
      this.toAnnounce.push(format(this.strings.newFrom, { name: this.senderName(message), text: message.content.slice(0, 200) }));
      this.requestUpdate();
      if (this.isOpen && !this.pinned && this.dividerSeq === undefined) this.dividerSeq = message.seq;
    }
    this.noteSeen(); // read at once when the reader is at the bottom of the open panel: never counted unread
    this.countUnread();
  }

  /** The user's Retry: failing again then is news again. */
  private retry(messageId: string): void {
    this.saidFailed.delete(messageId);
    void this.chat.client?.retry(messageId);
  }

  /** Said as a sighted reader sees "Not sent" by the message: the failure is otherwise silent. */
  private sendFailed(message: ClientMessage): void {
    // Once: each new connection tries failed messages again, and one failing again is no news.
    if (this.saidFailed.has(message.message_id)) return;
    this.saidFailed.add(message.message_id);
    this.toAnnounce.push(`${this.strings.failed}: ${message.content.slice(0, 200)}`);
    this.requestUpdate();
  }

  private serverRefused(error: ClientError): void {
    // The server takes no more messages for a while: the reader is told why theirs wait, until none does.
    if (error.code === ErrorCode.RATE_LIMITED) this.slowDown = true;
    dispatch(this, 'live-chat-error', { code: error.code, message: error.message, ...(error.message_id ? { message_id: error.message_id } : {}) });
  }

  /** Read up to `seq` in another tab or on another device (or here, which changes nothing): not unread here either. */
  private seenElsewhere(seq: number): void {
    if (this.readBefore !== undefined) this.readBefore = Math.max(this.readBefore, seq);
    this.seenSeq = Math.max(this.seenSeq, seq);
    this.countUnread();
  }

  private statusChanged(status: ConnectionState): void {
    if (status === 'connected') {
      // Messages up to now came with the join; announce only what arrives after.
      const highest = this.chat.client?.highestSeq ?? 0;
      this.announceAfterSeq = highest;
      if (this.loaded) this.newsAfterSeq ??= this.chat.client?.joinedAtSeq ?? highest;
      if (this.readBefore !== undefined && this.isOpen) this.dividerSeq ??= this.firstUnreadAfter(this.readBefore);
      this.readBefore = undefined;
      this.countUnread();
    } else this.slowDown = false; // a pause of that connection; the next one starts afresh
    if (!TRYING.includes(status)) this.lastSettled = status;
    if (status === this.lastStatus) return;
    this.lastStatus = status;
    dispatch(this, 'live-chat-status', { status });
  }

  private countUnread(): void {
    const unread = this.chat.messages.filter((m) => !m.mine && m.seq !== undefined && m.seq > this.seenSeq).length;
    if (unread === this.unread) return;
    this.unread = unread;
    this.requestUpdate();
    dispatch(this, 'live-chat-unread', { count: unread });
  }

  /** What is on screen at the bottom of an open panel in a visible page has been seen: mark it read. */
  private noteSeen(): void {
    // Not before the cache is in (chatReady): the client could not send the read position yet, and the divider needs the old one.
    if (!this.loaded || !this.isOpen || !this.pinned || document.visibilityState !== 'visible') return;
    const newest = this.chat.messages.filter((m) => !m.mine && m.seq !== undefined).at(-1);
    if (!newest || newest.seq! <= this.seenSeq) return;
    this.seenSeq = newest.seq!;
    this.chat.client?.markRead();
    this.countUnread();
  }

  private senderName(message: ClientMessage): string {
    if (message.mine) return this.strings.you;
    return message.sender_role === 'agent' ? this.strings.support : this.strings.visitor;
  }

  // ---- scrolling and the render window ----

  private onScroll = () => {
    const el = this.scroller;
    if (!el) return;
    const total = this.chat.messages.length;
    const end = this.windowEnd ?? total;
    this.pinned = this.windowEnd === undefined && el.scrollHeight - el.scrollTop - el.clientHeight < EDGE_PX;
    if (el.scrollTop < EDGE_PX) {
      if (this.windowStart > 0) {
        this.windowStart = Math.max(0, this.windowStart - WINDOW_STEP);
        if (end - this.windowStart > WINDOW * 2) this.windowEnd = this.windowStart + WINDOW * 2;
      } else void this.chat.loadOlder().then(() => this.capWindow());
    } else if (this.windowEnd !== undefined && el.scrollHeight - el.scrollTop - el.clientHeight < EDGE_PX) {
      const next = this.windowEnd + WINDOW_STEP;
      this.windowEnd = next >= total ? undefined : next;
      if ((this.windowEnd ?? total) - this.windowStart > WINDOW * 2) this.windowStart = (this.windowEnd ?? total) - WINDOW * 2;
    }
    if (this.pinned) this.noteSeen();
  };

  /** Home and End reach the oldest held and the newest at once; the window alone moves a step a press, hundreds in a long history. */
  private readonly onListKey = (event: KeyboardEvent): void => {
    // Rendered before the key's own scroll, which then goes to the top or the bottom of the new window.
    if (event.key === 'Home') {
      this.pinned = false;
      this.windowStart = 0;
      this.windowEnd = this.chat.messages.length > WINDOW * 2 ? WINDOW * 2 : undefined; // a short history whole
    } else if (event.key === 'End') this.jumpToEnd();
  };

  /** To the newest message, as End does; what is there is then seen. */
  private readonly jumpToEnd = (): void => {
    this.pinned = true;
    this.windowEnd = undefined;
    this.requestUpdate();
  };

  /** Older pages arrive at the top: drop from the bottom what is beyond twice the window. */
  private capWindow(): void {
    if (this.pinned || this.chat.messages.length <= WINDOW * 2) return;
    this.windowEnd = Math.min(this.windowEnd ?? this.chat.messages.length, this.windowStart + WINDOW * 2);
  }

  /** Before a render: which message is at the top of the view, and where, so the view does not jump. */
  private rememberAnchor(): void {
    const el = this.scroller;
    this.anchor = undefined;
    if (!el || this.pinned) return;
    for (const bubble of el.querySelectorAll<HTMLElement>('[data-id]')) {
      if (bubble.offsetTop + bubble.offsetHeight > el.scrollTop) {
        this.anchor = { id: bubble.dataset.id!, offset: bubble.offsetTop - el.scrollTop };
        return;
      }
    }
  }

  /**
   * A reader at the bottom before the list got shorter stays there. Judged by the height it had:
   * the scroll event of the last programmatic scroll may arrive after the resize, measured
   * against the new height, and say the reader left the bottom.
   */
  private listChangedSize(): void {
    const list = this.scroller;
    if (!list) return;
    const before = this.listHeight;
    this.listHeight = list.clientHeight;
    if (this.pinned || (this.windowEnd === undefined && list.scrollHeight - list.scrollTop - before < EDGE_PX)) {
      this.pinned = true;
      this.restoreScroll();
    }
  }

  private restoreScroll(): void {
    const el = this.scroller;
    if (!el) return;
    if (this.pinned) {
      el.scrollTop = el.scrollHeight;
      return;
    }
    if (!this.anchor) return;
    const bubble = el.querySelector<HTMLElement>(`[data-id="${CSS.escape(this.anchor.id)}"]`);
    if (bubble) el.scrollTop = bubble.offsetTop - this.anchor.offset;
  }

  /** The slice of messages in the DOM: the newest WINDOW while following, else what the reader scrolled to. */
  private visibleMessages(all: ClientMessage[]): ClientMessage[] {
    if (this.windowEnd === undefined && this.pinned) this.windowStart = Math.max(0, all.length - WINDOW);
    return all.slice(this.windowStart, this.windowEnd ?? all.length);
  }

  // ---- composing ----

  /** Full screen (a phone), Tab goes round the panel's controls: the page under it is hidden. */
  private readonly onPanelKey = (event: KeyboardEvent): void => (event.key === 'Tab' && this.fullScreen ? this.keepFocusIn(event) : this.onEscape(event));

  /** Escape closes the panel (not while it ends an IME composition), and goes no further: a page dialog around the widget stays open. */
  private readonly onEscape = (event: KeyboardEvent): void => {
    if (event.key !== 'Escape' || event.isComposing || !this.opened) return;
    event.stopPropagation();
    event.preventDefault(); // a <dialog> of the page closes on Escape by default
    this.close();
  };

  /** Whether the panel covers the screen (styles.ts: under 480 px wide or 520 px tall). */
  private get fullScreen(): boolean {
    return this.mode !== 'inline' && !!this.narrow?.matches;
  }

  /** Tab from the last control goes to the first, Shift+Tab from the first to the last. */
  private keepFocusIn(event: KeyboardEvent): void {
    const controls = [...this.renderRoot.querySelectorAll<HTMLElement>('.panel :is(button, textarea, a[href], [tabindex="0"])')];
    const edge = event.shiftKey ? controls[0] : controls.at(-1);
    if (!edge || (this.renderRoot as ShadowRoot).activeElement !== edge) return;
    event.preventDefault();
    (event.shiftKey ? controls.at(-1) : controls[0])?.focus();
  }

  private onKeydown(event: KeyboardEvent): void {
    // Enter sends, Shift+Enter is a new line; Enter that ends an IME composition (Japanese, Chinese, Thai) does neither.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      void this.submit();
    }
  }

  private onInput(): void {
    this.growComposer();
    this.composerError = '';
    const text = this.input?.value ?? '';
    if (!text.trim()) return this.setTyping(false);
    const now = performance.now();
    if (!this.typingOn || now - this.typingSentAt > TYPING_REPEAT_MS) {
      this.typingOn = true;
      clearTimeout(this.typingSoon);
      this.typingSoon = setTimeout(() => {
        this.typingSentAt = performance.now();
        this.chat.client?.setTyping(true);
      }, this.typingSentAt + TYPING_THROTTLE_MS + TYPING_THROTTLE_MARGIN_MS - now);
    }
    clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => this.setTyping(false), TYPING_IDLE_MS);
  }

  /** Grows the composer with its text where CSS cannot (field-sizing is Chromium-only). */
  private growComposer(): void {
    const input = this.input;
    if (!input || CSS.supports('field-sizing', 'content')) return;
    input.style.height = 'auto';
    input.style.height = `${input.scrollHeight}px`;
  }

  private setTyping(on: boolean): void {
    clearTimeout(this.typingIdle);
    clearTimeout(this.typingSoon);
    if (on === this.typingOn) return;
    this.typingOn = on;
    this.chat.client?.setTyping(on);
  }

  private async submit(event?: Event): Promise<void> {
    event?.preventDefault();
    const input = this.input;
    const { client } = this.chat;
    if (!input || !client || !input.value.trim()) return;
    const id = client.conversationId;
    // White space, which the 4000 characters do not count, can still fill a frame: then it counts.
    const invalid = contentProblem(input.value);
    const problem = invalid ?? (id && !sendFits(id, input.value) ? 'is too large to send' : null);
    if (problem) {
      // Kept in the composer to be shortened or fixed; the page hears of it as of any send that failed here.
      const length = codePointLength(invalid ? input.value.trim() : input.value);
      this.composerError = length > MAX_CONTENT_CHARS ? format(this.strings.tooLong, { n: length, max: MAX_CONTENT_CHARS }) : this.strings.badText;
      this.composerErrors++;
      this.requestUpdate(); // the same words as last time change no property
      dispatch(this, 'live-chat-error', { code: 0, message: `not sent: the message ${problem}` });
      return;
    }
    // Until the token has come there is nowhere to keep the text but the composer: cleared now, a reload would lose it.
    if ((this.sendWhenReady = !this.loaded && !this.chat.failed)) return;
    const text = input.value;
    input.value = '';
    this.growComposer();
    this.setTyping(false);
    this.pinned = true;
    this.windowEnd = undefined;
    try {
      await client.send(text);
    } catch (error) {
      // Never lose what was typed, but never put it in another conversation's (or user's) composer either (the error says it was not sent).
      if (this.chat.client === client) {
        input.value = text;
        if (!input.isConnected) this.draft = text; // the panel closed meanwhile: it comes back when it opens
      }
      dispatch(this, 'live-chat-error', { code: 0, message: error instanceof Error ? error.message : String(error) });
    }
  }

  // ---- rendering ----

  protected override render(): TemplateResult {
    const s = this.strings;
    if (this.mode === 'inline') return html`${this.renderPanel(s, true)}${this.renderAnnouncer()}`;
    const badge = this.unread && !this.opened ? html`<span class="badge" part="badge" aria-hidden="true">${this.unread > 99 ? '99+' : this.unread}</span>` : nothing;
    const label = this.unread && !this.opened ? `${s.open} (${format(s.unread, { n: this.unread })})` : this.opened ? s.close : s.open;
    return html`
      <button
        class="launcher"
        part="launcher"
        type="button"
        aria-expanded=${this.opened ? 'true' : 'false'}
        aria-controls="panel"
        @click=${() => this.toggle()}
        @keydown=${this.onEscape}
      >
        ${this.opened ? ICON_CLOSE : ICON_CHAT}<span class="visually-hidden">${label}</span>${badge}
      </button>
      ${this.opened ? this.renderPanel(s, false) : nothing} ${this.renderAnnouncer()}
    `;
  }

  /** Outside the panel: a message that arrives while it is closed is said too (the badge tells a sighted reader). */
  private renderAnnouncer(): TemplateResult {
    return html`<div class="visually-hidden" role="log" aria-live="polite">${keyed(this.announced, this.announcement.map((text) => html`<p>${text}</p>`)) /* a node for each: the same words twice are still said twice */}</div>`;
  }

  private renderPanel(s: Strings, inline: boolean): TemplateResult {
    const heading = this.heading ?? s.title;
    const { lang } = this.locale;
    return html`
      <section
        id="panel"
        class="panel ${inline ? 'inline' : 'floating'}"
        part="panel"
        role=${inline ? 'region' : 'dialog'}
        aria-label=${heading}
        lang=${lang}
        dir=${this.language ? (isRtl(lang) ? 'rtl' : 'ltr') : nothing /* a chosen language brings its direction; else the page's */}
        aria-modal=${inline || !this.fullScreen ? nothing : 'true'}
        @keydown=${inline ? nothing : this.onPanelKey}
      >
        <div class="header" part="header">
          <div class="heading">
            <h2>${heading}</h2>
            <div class="connection" part="status">${this.statusText(s)}</div>
          </div>
          ${inline ? nothing : html`<button class="icon-button" type="button" aria-label=${s.close} @click=${() => this.close()}>${ICON_CLOSE}</button>`}
        </div>
        ${this.renderNotice(s)}
        <div class="messages" part="messages" role="region" aria-label=${s.messages} tabindex="0" @scroll=${this.onScroll} @keydown=${this.onListKey}>
          ${this.chat.loadingOlder ? html`<div class="older">${s.older}</div>` : nothing} ${this.renderMessages(s)}
          ${!this.pinned && this.unread
            ? html`<button class="jump" part="jump" type="button" @click=${this.jumpToEnd}>${format(s.unread, { n: this.unread })}<span aria-hidden="true"> ↓</span></button>`
            : nothing /* scrolled up: news below would go unseen (inline views have no badge) */}
        </div>
        <div class="typing" part="typing">${this.typingText(s)}</div>
        <div id="composer-error" class="composer-error" role="alert">${this.composerError ? keyed(this.composerErrors, html`<p>${this.composerError}</p>`) : nothing}</div>
        <form part="composer" @submit=${(e: Event) => this.submit(e)}>
          <label class="visually-hidden" for="input">${this.placeholder || s.placeholder}</label>
          <textarea
            id="input"
            dir="auto"
            rows="1"
            enterkeyhint="send"
            placeholder=${this.placeholder || s.placeholder}
            aria-invalid=${this.composerError ? 'true' : 'false'}
            aria-describedby="composer-error"
            @keydown=${this.onKeydown}
            @input=${this.onInput}
          ></textarea>
          <button class="send" type="submit" aria-label=${s.send}>${ICON_SEND}</button>
        </form>
      </section>
    `;
  }

  /**
   * Offline, or trying while the browser says so (a send, the page shown again, a new conversation):
   * the notice stays as it is rather than go and come back, announced anew with each try.
   */
  private get offline(): boolean {
    return this.chat.state === 'offline' || (TRYING.includes(this.chat.state) && navigator.onLine === false);
  }

  private statusText(s: Strings): string {
    if (this.offline) return s.offlineStatus; // the notice below says the rest
    switch (this.chat.state) {
      case 'connected':
        return s.connected;
      case 'stopped':
        return s.stopped;
      case 'auth-failed':
        return s.expired;
      case 'replaced':
        return s.replaced;
      default:
        return s.connecting;
    }
  }

  private renderNotice(s: Strings) {
    const state = this.chat.state;
    const notice = (text: string, action?: string) =>
      html`<div class="notice" part="notice" role="alert"><span>${text}</span>${action ? html`<button type="button" @click=${() => this.reconnect()}>${action}</button>` : nothing}</div>`;
    if (this.offline) return notice(s.offline, s.reconnect); // the browser's word on the network can be wrong
    // Stopped or expired, or trying again from there (the user's reconnect, a send): the same notice until it works or is refused again.
    const settled = TRYING.includes(state) || state === 'idle' ? this.lastSettled : state;
    if (settled === 'stopped') return notice(s.stopped, s.reconnect);
    // Reconnect only where it can help: with a provider to ask, or a token attribute not refused yet (a new one reconnects by itself).
    if (settled === 'auth-failed') return notice(s.expired, this.tokenProvider || this.token !== this.usedToken ? s.reconnect : undefined);
    if (settled === 'replaced') return notice(s.replaced, s.useHere);
    if (this.slowDown && state === 'connected') return notice(s.slowDown);
    if (!this.chat.persistent) return notice(s.storage);
    return nothing;
  }

  private typingText(s: Strings): string {
    const typists = [...this.chat.typing.keys()].filter((id) => id !== this.chat.client?.userId);
    if (!typists.length) return '';
    // A conversation's id is its end user's id: anyone else typing in it is support.
    return format(s.typing, { name: typists[0] === this.chat.client?.conversationId ? s.visitor : s.support });
  }

  private renderMessages(s: Strings) {
    const messages = this.visibleMessages(this.chat.messages);
    const { lang } = this.locale;
    const clock = new Intl.DateTimeFormat(lang, { hour: 'numeric', minute: '2-digit' });
    const dated = new Intl.DateTimeFormat(lang, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
    const today = new Date(Date.now()).toDateString();
    // Today's times alone, an earlier day's with its date: a conversation can run over days.
    const when = (ms: number) => (new Date(ms).toDateString() === today ? clock : dated).format(ms);
    const out: TemplateResult[] = [];
    let group: ClientMessage[] = [];
    const flush = () => {
      if (group.length) out.push(this.renderGroup(group, s, when));
      group = [];
    };
    for (const message of messages) {
      if (message.seq !== undefined && message.seq === this.dividerSeq) {
        flush();
        out.push(html`<div class="divider" role="separator">${s.newMessages}</div>`);
      }
      const previous = group.at(-1);
      if (previous && (previous.sender_id !== message.sender_id || timeOf(message) - timeOf(previous) > GROUP_GAP_MS)) flush();
      group.push(message);
    }
    flush();
    return out;
  }

  private renderGroup(group: ClientMessage[], s: Strings, when: (ms: number) => string): TemplateResult {
    const first = group[0]!;
    const last = group.at(-1)!;
    const own = first.mine;
    return html`
      <div class="group ${own ? 'own' : ''}">
        ${own ? html`<div class="visually-hidden">${s.you}</div>` : html`<div class="sender">${this.senderName(first)}</div>`}
        ${group.map(
          (m) => html`<div class="bubble ${m.seq === undefined ? 'pending' : ''}" part="message" dir="auto" data-id=${m.message_id}>${linkify(m.content).map((part) =>
            part.href ? html`<a href=${part.href} target="_blank" rel="noopener noreferrer">${part.text}</a>` : part.text,
          )}</div>${m.status === 'failed'
            ? html`<div class="meta"><span class="failed">${s.failed}</span><button class="retry" type="button" @click=${() => this.retry(m.message_id)}>${s.retry}</button></div>`
            : nothing}`,
        )}
        <div class="meta">
          <time datetime=${last.created_at ?? ''} dir="auto">${when(timeOf(last))}</time>
          ${own && last.status !== 'failed' ? html`<span>${s[last.status]}</span>` : nothing}
        </div>
      </div>
    `;
  }
}

const timeOf = (m: ClientMessage): number => (m.created_at ? Date.parse(m.created_at) : (m.queued_at ?? Date.now()));
