import {
  CLIENT_PING_AFTER_MS,
  CLIENT_PONG_TIMEOUT_MS,
  CLIENT_OPEN_TIMEOUT_MS,
  JOIN_ACK_TIMEOUT_MS,
  RECONNECT_DELAYS_MS,
  RECONNECT_JITTER,
  SEND_RETRY_INTERVAL_MS,
  SEND_TRIES,
  MAX_FRAME_BYTES,
  contentProblem,
  newMessageId,
  sendFits,
} from '../protocol/index.js';
import { MemoryChatStore, nextQueuedAt, openChatStore, type ChatStore, type OutboxEntry, type ReadState } from '../outbox/index.js';
import { reconnectDelay } from './backoff.js';
import { ChatEngine } from './chat-engine.js';
import { Conversation, type Change } from './conversation.js';
import { TabCoordinator } from './tab-coordinator.js';
import { NoToken, TokenSource, providerFailed, readClaims } from './token.js';
import type { ClientEvents, ClientMessage, ClientTiming, ConnectionState, TokenProvider } from './types.js';

export interface LiveChatClientOptions {
  /** The server's WebSocket URL, e.g. wss://chat.example.com/ws/chat. */
  url: string;
  token?: string;
  /** Preferred over `token`: asked again when the server refuses a token (expired). */
  tokenProvider?: TokenProvider;
  /** Defaults to the token's `sub` (an end user's own conversation); agents must name one. */
  conversationId?: string;
  /** Where to keep the outbox and cache; default IndexedDB, falling back to memory. */
  store?: ChatStore;
  /** Share one socket between the tabs of this browser profile (default true). */
  shareConnection?: boolean;
  timing?: Partial<ClientTiming>;
  random?: () => number;
  WebSocket?: typeof WebSocket;
}

/** closeWhenSent() waits at most this long for the last messages' acks. */
const DRAIN_TIMEOUT_MS = 30_000;

/** How many cached messages a reload shows at once; older ones come with loadOlder(). */
const CACHED_ON_START = 200;

export const DEFAULT_TIMING: ClientTiming = {
  reconnectDelaysMs: RECONNECT_DELAYS_MS,
  jitter: RECONNECT_JITTER,
  pingAfterMs: CLIENT_PING_AFTER_MS,
  pongTimeoutMs: CLIENT_PONG_TIMEOUT_MS,
  openTimeoutMs: CLIENT_OPEN_TIMEOUT_MS,
  joinTimeoutMs: JOIN_ACK_TIMEOUT_MS,
  sendRetryMs: SEND_RETRY_INTERVAL_MS,
  sendTries: SEND_TRIES,
  heartbeatTickMs: 1000,
};

/** What tabs tell each other. */
type TabMessage =
  | { t: 'change'; message: ClientMessage }
  | { t: 'emit'; type: keyof ClientEvents; detail: unknown }
  | { t: 'hello' }
  | { t: 'flush' }
  | { t: 'call'; id: string; name: 'typing' | 'read' | 'reconnect' | 'older'; arg?: unknown }
  | { t: 'reply'; id: string; value: unknown };

type Listener<K extends keyof ClientEvents> = (detail: ClientEvents[K]) => void;

/**
 * The widget's connection to its conversation, without any UI: an IndexedDB outbox written
 * before anything goes on the wire, exactly-once display by message_id, one socket per
 * device shared by its tabs, and the reconnect, heartbeat and retry duties of PROTOCOL.md.
 */
export class LiveChatClient {
  /** Resolves once the token is read and the cached conversation loaded; rejects if the token cannot be read. */
  readonly ready: Promise<void>;
  private readonly listeners = new Map<keyof ClientEvents, Set<Listener<never>>>();
  private readonly options: LiveChatClientOptions;
  private readonly timing: ClientTiming;
  /** The last read position asked for while this tab held no socket, until an engine of this tab takes it. */
  private readWanted: { id: string; seq: number } | undefined;
  private conversation!: Conversation;
  private store!: ChatStore;
  private tokens!: TokenSource;
  private engine: ChatEngine | undefined;
  private tabs: TabCoordinator<TabMessage> | undefined;
  private mirroredState: ConnectionState = 'idle';
  private readonly calls = new Map<string, (value: unknown) => void>();
  private closed = false;
  /** send() calls still writing to the outbox: closeWhenSent() waits for them too. */
  private writing = 0;
  /** Set while closeWhenSent() waits: it looks again. */
  private settleDrain: (() => void) | undefined;
  /** Set while the first token is awaited (see firstToken()): cuts that wait short. */
  private tokenWake: ((manual: boolean) => void) | undefined;
  private readonly wake = () => (this.engine ? this.engine.wake() : this.tokenWake?.(false));
  private readonly offline = () => this.engine?.offline();
  private readonly visible = () => {
    if (document.visibilityState === 'visible') this.wake();
  };

  constructor(options: LiveChatClientOptions) {
    this.options = options;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.ready = this.start();
    this.ready.catch(() => undefined); // reported through `ready` and the 'state' event
  }

  // ---- reading ----

  get state(): ConnectionState {
    return this.engine?.state ?? this.mirroredState;
  }

  /** Every message, in display order: the server's by seq, then this user's unsent ones. */
  get messages(): ClientMessage[] {
    return this.conversation?.list() ?? [];
  }

  get userId(): string | undefined {
    return this.conversation?.selfId;
  }

  get conversationId(): string | undefined {
    return this.conversation?.conversationId;
  }

  /** The highest seq of the messages held (0 when none): the newest the server has stored that this device knows of. */
  get highestSeq(): number {
    return this.conversation?.highestSeq() ?? 0;
  }

  /** The conversation's highest seq when this device first joined it with nothing cached: up to there is history. */
  get joinedAtSeq(): number | undefined {
    return this.conversation?.joinedAtSeq;
  }

  /** The highest seq this user has marked read in this conversation. */
  get readSeq(): number {
    return this.conversation?.readSeq ?? 0;
  }

  /** False when messages are kept in memory only (IndexedDB unavailable). */
  get persistent(): boolean {
    return this.store?.persistent ?? true;
  }

  /** Whether this tab holds the device's socket. */
  get holdsConnection(): boolean {
    return this.engine !== undefined;
  }

  on<K extends keyof ClientEvents>(type: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  // ---- acting ----

  /**
   * Writes a message to the outbox and resolves once it is stored there (before anything goes
   * on the wire); it is then sent, retried and acked on its own. Rejects content the server
   * would refuse (empty, too long, NUL, lone surrogates).
   */
  async send(content: string): Promise<ClientMessage> {
    const problem = contentProblem(content);
    if (problem) throw new Error(`message ${problem}`);
    this.writing++;
    let added;
    let entry: OutboxEntry;
    try {
      await this.ready;
      this.assertOpen();
      if (!sendFits(this.conversation.conversationId, content)) throw new Error(`message is too large to send: its frame would be over ${MAX_FRAME_BYTES} bytes`);
      entry = { message_id: newMessageId(), conversation_id: this.conversation.conversationId, content, queued_at: nextQueuedAt(Math.max(0, ...this.conversation.unsent().map((m) => m.queued_at ?? 0))), status: 'queued' };
      await this.persist(() => this.store.putOutbox(entry));
      added = this.conversation.addPending(entry);
    } finally {
      this.writing--;
      if (!added) this.settleDrain?.(); // a write that failed fires no event the drain would hear
    }
    // Closed while writing: the message stays in this conversation's outbox and goes out when it is next opened.
    if (!this.closed) {
      this.changed([added]);
      this.kick();
    }
    return this.conversation.get(entry.message_id)!;
  }

  /** Sends a failed message again (same message_id, so it can never be stored twice). */
  async retry(messageId: string): Promise<void> {
    await this.ready;
    this.assertOpen();
    const entry = (await this.store.outbox(this.conversation.conversationId)).find((e) => e.message_id === messageId);
    if (!entry) return;
    await this.persist(() => this.store.putOutbox({ ...entry, status: 'queued', refused: false }));
    this.changed([this.conversation.setPendingStatus(messageId, 'queued')]);
    this.kick();
  }

  setTyping(isTyping: boolean): void {
    if (this.closed) return;
    if (this.engine) this.engine.setTyping(isTyping);
    else void this.call('typing', isTyping);
  }

  /** Marks everything up to the newest message from others as read (call it while the chat is on screen). */
  markRead(): void {
    if (this.closed) return;
    const newest = this.messages.filter((m) => !m.mine && m.seq !== undefined).at(-1);
    if (!newest) return;
    if (this.engine) return this.engine.markRead(newest.message_id, newest.seq!);
    // Kept too: no tab may hold the socket yet (this one is still starting), and the one that comes to hold it says it.
    this.readWanted = { id: newest.message_id, seq: newest.seq! };
    void this.call('read', { message_id: newest.message_id, seq: newest.seq });
  }

  /** Loads the page before the oldest message held; resolves whether older ones remain. */
  async loadOlder(): Promise<boolean> {
    await this.ready;
    if (this.engine) return this.engine.loadOlder();
    return (await this.call('older')) !== false;
  }

  /** Tries again now, also when `stopped`, `offline`, `auth-failed` (with a fresh token) or `replaced`. */
  reconnect(): void {
    if (this.closed) return;
    if (this.engine) this.engine.wake(true);
    else if (this.tokenWake) this.tokenWake(true);
    else void this.call('reconnect');
  }

  /**
   * Closes once nothing written here waits to go out: at once if nothing does, else when the last
   * is acked, or when sending cannot go on (stopped, refused, replaced); what is left then stays in
   * the outbox for the next time the conversation is opened. For a view that moves on (another
   * conversation, another page) right after a reply was written.
   */
  closeWhenSent(timeoutMs = DRAIN_TIMEOUT_MS): void {
    if (this.closed) return;
    const settle = (timedOut = false) => {
      const waiting = this.writing > 0 || (this.conversation?.unsent() ?? []).some((m) => m.status !== 'failed');
      // Waited for unless sending cannot go on (stopped, refused, replaced), 30 s at most: a client that
      // cannot finish holds the conversation's socket from a view that opens it again. Offline is
      // waited for: a train leaving a tunnel is back within it.
      if (waiting && !timedOut && !['stopped', 'auth-failed', 'replaced'].includes(this.state) && Date.now() < deadline) return;
      clearTimeout(timer);
      for (const off of listening) off();
      this.settleDrain = undefined;
      // Not inside the event that settled it: the last ack is still to be told to the other tabs and written to the store.
      setTimeout(() => this.close(), 0);
    };
    const deadline = Date.now() + timeoutMs;
    const timer = setTimeout(() => settle(true), timeoutMs); // closes even if the clock was set back meanwhile
    const look = () => settle();
    const listening = [this.on('update', look), this.on('message', look), this.on('state', look)];
    this.settleDrain = look;
    settle();
  }

  /** Closes the socket and stops; another tab takes the connection over if one is open. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tokenWake?.(true);
    this.engine?.stop(); // its 'stopped' is not broadcast: the other tabs take the socket over instead
    this.tabs?.close();
    window.removeEventListener('online', this.wake);
    window.removeEventListener('offline', this.offline);
    document.removeEventListener('visibilitychange', this.visible);
    this.store?.close();
  }

  // ---- inside ----

  private async start(): Promise<void> {
    const { options } = this;
    this.tokens = new TokenSource(options.tokenProvider ? undefined : options.token, options.tokenProvider);
    // Listening from the start: the first token may wait for the network too.
    window.addEventListener('online', this.wake);
    window.addEventListener('offline', this.offline);
    document.addEventListener('visibilitychange', this.visible);
    let claims;
    try {
      const token = await this.firstToken();
      if (token === undefined) return; // closed meanwhile
      claims = readClaims(token);
    } catch (error) {
      this.emit('state', { state: 'auth-failed', previous: this.mirroredState, error: { code: 4001, message: error instanceof Error ? error.message : String(error) } });
      throw error;
    }
    const conversationId = options.conversationId ?? claims.sub;
    this.conversation = new Conversation(conversationId, claims.sub, claims.role);
    const scope = `${options.url}|${claims.sub}|${conversationId}`;
    // Listening before the cache is read: what the holding tab tells meanwhile is what that read may have missed.
    let heard: TabMessage[] | undefined = [];
    if ((options.shareConnection ?? true) && TabCoordinator.supported) {
      this.tabs = new TabCoordinator<TabMessage>(`live-chat:${scope}`, (message) => (heard ? heard.push(message) : this.fromTab(message)));
    }
    this.store = options.store ?? (await openChatStore(`live-chat:${claims.sub}@${new URL(options.url, location.href).host}`));
    if (this.closed) return this.store.close(); // closed while it opened: close() could not close it
    if (!this.store.persistent) {
      // A tab keeping messages in memory only cannot share what it holds: it connects on its own.
      this.tabs?.close();
      this.tabs = undefined;
      heard = []; // another tab's news is not this one's
      this.emit('storage', { persistent: false });
    }

    const [cached, pending, reads] = await Promise.all([
      this.store.messages(conversationId, CACHED_ON_START).catch(() => []),
      this.store.outbox(conversationId).catch(() => []),
      this.store.readState(conversationId).catch((): ReadState => ({ read_seq: 0, peer_read_seq: 0 })),
    ]);
    this.conversation.readSeq = reads.read_seq;
    this.conversation.peerReadSeq = reads.peer_read_seq;
    this.changed(
      [...cached.map((m) => this.conversation.addStored(m)), ...pending.map((e) => this.conversation.addPending(e))],
      false,
    );
    // The mark as kept, but never past a gap in the cache: a message write that did not land (quota, a page closed) after
    // the mark was written. A store written before the mark was kept: what the cache holds without a gap.
    this.conversation.markFromHeld();
    this.conversation.syncedSeq = Math.min(this.conversation.syncedSeq, reads.synced_seq ?? Infinity);
    if (this.closed) return;
    const missed = heard;
    heard = undefined;
    for (const message of missed) this.fromTab(message); // in the holder's order, after the cache they may supersede

    const tabs = this.tabs;
    if (!tabs) return this.lead(false);
    tabs.elect(() => this.lead(true));
    if (!this.engine) tabs.post({ t: 'hello' });
  }

  /**
   * The token that names the user and the conversation, asked for as a connection is tried: a
   * provider on a flaky network may hang, or fail while offline, and must not leave the client
   * idle for good. A try unanswered within the open timeout, or failed, is made again on the
   * reconnect schedule, and once that is spent (or offline) on `online`, a page shown or
   * reconnect(). A provider that says there is no token (NoToken) is thrown.
   * Undefined once the client is closed.
   */
  private async firstToken(): Promise<string | undefined> {
    const { openTimeoutMs, reconnectDelaysMs, jitter } = this.timing;
    let report: ConnectionState | undefined; // the state of a try after the first
    for (let attempt = 0; ; ) {
      const answer = await this.waitOrWake(openTimeoutMs, false, report, this.tokens.get());
      if (this.closed) return undefined;
      if (typeof answer === 'object') {
        if ('token' in answer) return answer.token;
        if (answer.error instanceof NoToken) throw answer.error;
        // Its server down, say (offline, it could not be reached): tried again as a connection is.
        if (navigator.onLine !== false) this.emit('error', providerFailed(answer.error));
      }
      report = 'connecting';
      if (answer === 'woken') {
        attempt = 0;
        continue;
      }
      const delay = navigator.onLine === false ? null : reconnectDelay(attempt++, reconnectDelaysMs, jitter, this.options.random);
      // As the engine's schedule: while it waits only the user cuts it short; once spent, any reason to try does.
      const waited = await this.waitOrWake(delay, delay === null, delay !== null ? 'reconnecting' : navigator.onLine === false ? 'offline' : 'stopped');
      if (this.closed) return undefined;
      if (waited === 'woken') attempt = 0;
    }
  }

  /**
   * Resolves with what `answer` gives, 'timeout' after `ms` (none if null), or 'woken' by tokenWake
   * (the user's only, unless `anyWake`) or close(). Reports `state` once armed: a page's listener
   * may call reconnect() or close() on hearing it.
   */
  private waitOrWake(ms: number | null, anyWake: boolean, state?: ConnectionState, answer?: Promise<string>): Promise<{ token: string } | { error: unknown } | 'timeout' | 'woken'> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return new Promise<{ token: string } | { error: unknown } | 'timeout' | 'woken'>((resolve) => {
      if (ms !== null) timer = setTimeout(() => resolve('timeout'), ms);
      this.tokenWake = (manual) => (manual || anyWake) && resolve('woken');
      answer?.then(
        (token) => resolve({ token }),
        (error: unknown) => resolve({ error }),
      );
      if (state) this.mirror(state);
      if (this.closed) resolve('woken');
    }).finally(() => {
      clearTimeout(timer);
      this.tokenWake = undefined;
    });
  }

  private mirror(state: ConnectionState): void {
    if (state !== this.mirroredState) this.emit('state', { state, previous: this.mirroredState });
  }

  /** This tab holds the device's socket now (first, or after the holding tab went away). */
  private lead(shared: boolean): void {
    if (this.closed) return;
    const deviceIdFor = async () => (shared ? this.store.deviceId(this.conversation.conversationId) : undefined);
    void deviceIdFor()
      .catch(() => undefined)
      .then((deviceId) => {
        // Closed, or gone alone (its storage failed) while the device id was read: that lead is over.
        if (this.closed || this.engine || (shared && !this.tabs)) return;
        const engine: ChatEngine = new ChatEngine({
          url: this.options.url,
          conversation: this.conversation,
          store: () => this.store,
          tokens: this.tokens,
          // Without a shared socket every tab connects on its own: a device id would make them replace each other (4009).
          deviceId: shared ? deviceId : undefined,
          timing: this.timing,
          random: this.options.random ?? Math.random,
          changed: (changes, written) => this.changed(changes, written ?? true),
          // An engine replaced (the tab went alone) says nothing more: its 'stopped' is not this client's.
          emit: (type, detail) => engine === this.engine && this.emit(type, detail, !this.closed),
          WebSocket: this.options.WebSocket ?? WebSocket,
        });
        this.engine = engine;
        // Handed over once: the engine keeps it until it is sent (or drops it with a reset store), and a later engine of
        // this tab (gone alone) must not be handed a position of another numbering.
        if (this.readWanted) engine.markRead(this.readWanted.id, this.readWanted.seq);
        this.readWanted = undefined;
        // What a holding tab that went away had on the wire is on none now: it waits, here, for this socket.
        this.changed(this.conversation.unsent().map((m) => (m.status === 'sending' ? this.conversation.setPendingStatus(m.message_id, 'queued') : undefined)));
        engine.start();
      });
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('live-chat: this client was closed');
  }

  /** Pushes the outbox toward the wire: here if this tab holds the socket, else through the one that does. */
  private kick(): void {
    if (this.closed) return;
    if (this.engine) {
      this.engine.wake();
      void this.engine.flush();
    } else this.tabs?.post({ t: 'flush' });
  }

  /** Storage that fails mid-session (quota, eviction) falls back to memory rather than losing the message. */
  private async persist(write: () => Promise<void>): Promise<void> {
    const store = this.store;
    try {
      await write();
    } catch {
      this.assertOpen(); // the store was closed with the client, not lost
      if (!store.persistent) throw new Error('the message could not be kept');
      // Another write that failed at the same time has switched already: one memory store, not two.
      if (this.store === store) {
        const memory = new MemoryChatStore();
        this.store = memory; // before any wait, for the same reason
        this.goAlone();
        this.emit('storage', { persistent: false });
        // What waits to go out, from this tab's own view of it (the store that failed may not be read either), with what only the store knows.
        const refused = new Set((await store.outbox(this.conversation.conversationId).catch(() => [])).filter((e) => e.refused).map((e) => e.message_id));
        for (const m of this.conversation.unsent()) {
          const status = m.status === 'failed' ? 'failed' : 'queued';
          await memory.putOutbox({ message_id: m.message_id, conversation_id: m.conversation_id, content: m.content, queued_at: m.queued_at ?? 0, status, refused: refused.has(m.message_id) });
        }
      }
      await write();
    }
  }

  /** This tab's outbox is in memory now, where the other tabs cannot read it: it leaves them and connects on its own. */
  private goAlone(): void {
    const tabs = this.tabs;
    if (!tabs) return;
    this.tabs = undefined;
    tabs.close(); // if it held the socket, another tab takes it over, with the device id
    const engine = this.engine;
    this.engine = undefined; // before it stops: its 'stopped' must not reach the page, nor closeWhenSent()
    engine?.stop();
    this.lead(false);
  }

  /**
   * Shows changes here and, unless `broadcast` is false, tells the other tabs at once; with a cache write
   * that holds them, again once it has landed: a tab opening in between reads the cache too early to find
   * them and subscribes too late to hear the first telling.
   */
  private changed(changes: readonly (Change | undefined)[], broadcast: boolean | Promise<unknown> = true): void {
    for (const change of changes) {
      if (!change) continue;
      this.emit(change.kind, { message: change.message });
      if (broadcast) this.tabs?.post({ t: 'change', message: change.message });
    }
    if (typeof broadcast !== 'object') return;
    void broadcast.then(() => {
      // As the message is now (read meanwhile, say), and not one dropped meanwhile (a reset); tabs that heard it already ignore it.
      for (const change of changes) {
        const now = change && this.conversation.get(change.message.message_id);
        if (now) this.tabs?.post({ t: 'change', message: now });
      }
    });
  }

  private emit<K extends keyof ClientEvents>(type: K, detail: ClientEvents[K], broadcast = false): void {
    if (type === 'state') this.mirroredState = (detail as ClientEvents['state']).state;
    if (broadcast) this.tabs?.post({ t: 'emit', type, detail });
    for (const listener of this.listeners.get(type) ?? []) {
      try {
        (listener as Listener<K>)(detail);
      } catch (error) {
        console.error('live-chat: a listener failed', error);
      }
    }
  }

  private fromTab(message: TabMessage): void {
    switch (message.t) {
      case 'change':
        return this.changed([this.conversation.apply(message.message)], false);
      case 'emit':
        if (message.type === 'reset') {
          this.conversation.dropStored();
          this.conversation.joinedAtSeq = (message.detail as ClientEvents['reset']).last_seq; // up to there is history, here too
        }
        if (message.type === 'seen') this.conversation.readSeq = Math.max(this.conversation.readSeq, (message.detail as ClientEvents['seen']).seq);
        // The holder repeats its state to every tab that says hello; the tabs that know it already skip it.
        if (message.type === 'state' && (message.detail as ClientEvents['state']).state === this.mirroredState && !this.engine) return;
        return this.emit(message.type, message.detail as never);
      case 'hello':
        if (this.engine) this.tabs?.post({ t: 'emit', type: 'state', detail: { state: this.engine.state, previous: this.engine.state } });
        return;
      case 'flush':
        if (this.engine) this.kick();
        return;
      case 'call':
        if (this.engine) void this.answer(message.id, message.name, message.arg);
        return;
      case 'reply':
        this.calls.get(message.id)?.(message.value);
        this.calls.delete(message.id);
        return;
    }
  }

  /** Runs another tab's request on this tab's socket. */
  private async answer(id: string, name: Extract<TabMessage, { t: 'call' }>['name'], arg: unknown): Promise<void> {
    const engine = this.engine!;
    let value: unknown;
    if (name === 'typing') engine.setTyping(arg === true);
    else if (name === 'read') {
      const { message_id, seq } = arg as { message_id: string; seq: number };
      engine.markRead(message_id, seq);
    } else if (name === 'reconnect') engine.wake(true);
    else if (name === 'older') value = await engine.loadOlder();
    this.tabs?.post({ t: 'reply', id, value });
  }

  private call(name: Extract<TabMessage, { t: 'call' }>['name'], arg?: unknown): Promise<unknown> {
    const id = newMessageId();
    return new Promise((resolve) => {
      this.calls.set(id, resolve);
      this.tabs?.post({ t: 'call', id, name, arg });
      // No holder answers while one is being elected; the caller gets "unknown" rather than hanging.
      setTimeout(() => {
        if (this.calls.delete(id)) resolve(undefined);
      }, 10_000);
    });
  }
}
