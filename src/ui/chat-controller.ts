import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { LiveChatClient, type ClientError, type ClientMessage, type ConnectionState, type TokenProvider } from '../client/index.js';

/** How long a typing indicator lasts without news (the sender's `false` may be lost). */
const TYPING_SHOWN_MS = 6000;

export interface ChatControllerCallbacks {
  /** The cached conversation is loaded: what was there came from the cache, not the network. */
  ready(): void;
  message(message: ClientMessage): void;
  status(state: ConnectionState): void;
  error(error: ClientError): void;
  /** The server's store was reset and the local copy replaced. */
  reset(): void;
  /** This user's read position moved up to `seq` (here, in another tab, or on another device). */
  seen(seq: number): void;
  /** An own message could not be sent (no answer, or refused as it is): it waits for the user's retry. */
  failed(message: ClientMessage): void;
}

/**
 * Holds the LiveChatClient for an element and turns its events into renders: the element stays
 * a view. Stops the connection when the element leaves the page.
 */
export class ChatController implements ReactiveController {
  client: LiveChatClient | undefined;
  messages: ClientMessage[] = [];
  state: ConnectionState = 'idle';
  persistent = true;
  /** Who is typing (by user id), until when. */
  typing = new Map<string, number>();
  hasOlder = true;
  loadingOlder = false;
  /** The client could not start (no token it could read): only a new client can recover. */
  failed = false;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private unsubscribe: (() => void)[] = [];

  constructor(
    private readonly host: ReactiveControllerHost & HTMLElement,
    private readonly on: ChatControllerCallbacks,
  ) {
    host.addController(this);
  }

  /** Starts a client; the element calls it once it has a server URL and a way to get tokens. */
  start(options: { url: string; tokenProvider: TokenProvider; conversationId?: string | undefined }): void {
    this.stop();
    const client = new LiveChatClient({
      url: options.url,
      tokenProvider: options.tokenProvider,
      ...(options.conversationId ? { conversationId: options.conversationId } : {}),
    });
    this.client = client;
    const refresh = () => {
      this.messages = client.messages;
      this.host.requestUpdate();
    };
    this.unsubscribe = [
      client.on('message', ({ message }) => {
        refresh();
        if (message.seq !== undefined && !message.mine) this.typing.delete(message.sender_id);
        this.on.message(message);
      }),
      client.on('update', ({ message }) => {
        refresh();
        if (message.status === 'failed') this.on.failed(message);
      }),
      client.on('reset', () => {
        refresh();
        this.on.reset();
      }),
      client.on('state', ({ state, error }) => {
        this.state = state;
        this.host.requestUpdate();
        this.on.status(state);
        // A refused token (4001) and a newer window (4009) end the connection: the page hears why.
        if (error && (state === 'auth-failed' || state === 'replaced')) this.on.error(error);
      }),
      client.on('error', (error) => this.on.error(error)),
      client.on('seen', ({ seq }) => this.on.seen(seq)),
      client.on('storage', ({ persistent }) => {
        this.persistent = persistent;
        this.host.requestUpdate();
      }),
      client.on('typing', ({ user_id, is_typing }) => {
        if (is_typing) this.typing.set(user_id, Date.now() + TYPING_SHOWN_MS);
        else this.typing.delete(user_id);
        this.scheduleTypingExpiry();
        this.host.requestUpdate();
      }),
    ];
    client.ready.then(
      () => {
        if (this.client !== client) return; // replaced while it loaded
        refresh();
        this.on.ready();
      },
      () => {
        if (this.client === client) this.failed = true;
      },
    );
  }

  /**
   * Closes the client, if any, and forgets its conversation. With `drain` (the view moves to another
   * conversation, or leaves the page) the client first sends what was just written; without, it
   * closes at once (the same conversation starts again, and its new client sends the outbox).
   */
  stop(drain = true): void {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    clearTimeout(this.typingTimer);
    this.typing.clear();
    if (drain) this.client?.closeWhenSent(); // a reply written just before a switch still goes out
    else this.client?.close();
    this.client = undefined;
    this.messages = [];
    this.hasOlder = true;
    this.loadingOlder = false;
    this.failed = false;
    this.persistent = true;
    this.state = 'idle';
  }

  async loadOlder(): Promise<void> {
    const { client } = this;
    if (!client || this.loadingOlder || !this.hasOlder) return;
    this.loadingOlder = true;
    this.host.requestUpdate();
    const hasOlder = await client.loadOlder().catch(() => true);
    if (this.client !== client) return; // another conversation by now
    this.hasOlder = hasOlder;
    this.loadingOlder = false;
    this.messages = client.messages;
    this.host.requestUpdate();
  }

  private scheduleTypingExpiry(): void {
    clearTimeout(this.typingTimer);
    const next = Math.min(...this.typing.values());
    if (!Number.isFinite(next)) return;
    this.typingTimer = setTimeout(() => {
      const now = Date.now();
      for (const [user, until] of this.typing) if (until <= now) this.typing.delete(user);
      this.host.requestUpdate();
      this.scheduleTypingExpiry();
    }, Math.max(0, next - Date.now()));
  }

  hostDisconnected(): void {
    // Leaving the page stops reconnecting (a widget removed by a single-page app must not linger);
    // the element starts a new client if it is put back. Moved (taken out and put back in one go, as
    // a framework may), it is back before this runs, and keeps its connection.
    queueMicrotask(() => {
      if (this.host.isConnected || !this.client) return;
      this.stop();
      this.on.status('idle');
    });
  }
}
