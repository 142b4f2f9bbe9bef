import {
  CloseCode,
  ErrorCode,
  clientFrame,
  decodeServerFrame,
  sendFits,
  type ChatMessage,
  type ClientFrame,
  type HistoryPage,
  type ServerFrameOf,
} from '../protocol/index.js';
import type { ChatStore, OutboxEntry } from '../outbox/index.js';
import { reconnectDelay } from './backoff.js';
import type { Change, Conversation } from './conversation.js';
import { NoToken, providerFailed, type TokenSource } from './token.js';
import type { ClientError, ClientEvents, ClientTiming, ConnectionState } from './types.js';

type Emit = <K extends keyof ClientEvents>(type: K, detail: ClientEvents[K]) => void;

export interface EngineOptions {
  url: string;
  conversation: Conversation;
  /** The current store: the client may fall back from IndexedDB to memory mid-session. */
  store: () => ChatStore;
  tokens: TokenSource;
  deviceId: string | undefined;
  timing: ClientTiming;
  random: () => number;
  /**
   * Reports changes of the conversation (the client shows them and tells the other tabs). With `written`, the
   * cache write that holds them: the other tabs are told again once it has landed, since a tab opening meanwhile
   * reads the cache too early to find them and subscribes too late to hear the first telling.
   */
  changed: (changes: readonly (Change | undefined)[], written?: Promise<unknown>) => void;
  emit: Emit;
  WebSocket: typeof WebSocket;
}

/** Close codes after which the client waits for the user rather than reconnecting by itself. */
const TERMINAL: Partial<Record<number, ConnectionState>> = { [CloseCode.REPLACED]: 'replaced', [CloseCode.AUTH_FAILED]: 'auth-failed' };

/** Rejoins after 4005 with no ack between them before the socket is left to the reconnect schedule. */
const REJOINS = 3;

/** A moment on both clocks (see since()). */
interface Stamp {
  wall: number;
  mono: number;
}

const stamp = (): Stamp => ({ wall: Date.now(), mono: performance.now() });

/**
 * Time since `at`, the longer of two clocks: the wall clock goes on while a laptop sleeps (the
 * monotonic one may not), and the monotonic one is not set back when the wall clock is.
 */
const since = (at: Stamp): number => Math.max(Date.now() - at.wall, performance.now() - at.mono);

/** One unacked send on the current socket. */
interface InFlight {
  tries: number;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The socket side of the client, run by the one tab that holds the device's connection: the
 * state machine, heartbeat, reconnect schedule, join and gap repair, and the outbox flush.
 */
export class ChatEngine {
  state: ConnectionState = 'idle';
  private socket: WebSocket | undefined;
  /** Moves on whenever the socket is dropped: a connect() still waiting for its token is then stale. */
  private generation = 0;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private joinTimer: ReturnType<typeof setTimeout> | undefined;
  private openTimer: ReturnType<typeof setTimeout> | undefined;
  private joinId: string | undefined;
  /** The last_seq the join under way asked from (0: none, the newest page). */
  private joinFrom = 0;
  /** The highest seq held when the join went out: what the join's page is compared with (not live messages that came before it). */
  private heldAtJoin = 0;
  /** A forward fetch is under way; another was asked for meanwhile. */
  private forwarding = false;
  private forwardAgain = false;
  private lastFrameAt = stamp();
  private pingSentAt: Stamp | undefined;
  private tokenRefreshed = false;
  /** The server refused the token and no fresh one has arrived yet (the fetch may have been cut short by going offline). */
  private tokenRefused = false;
  private readonly inFlight = new Map<string, InFlight>();
  /** Set by 4008: no send goes out before this time (performance.now(): a clock set back must not stretch the pause). */
  private pausedUntil = 0;
  private pauseTimer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  private retryFailed = false;
  /** History requests in flight, by message_id. */
  private readonly pages = new Map<string, (page: HistoryPage | undefined) => void>();
  /** Pages asked for to look at, not to show. */
  private readonly unmerged = new Set<string>();
  /** Set by 4003: the server refused the conversation; only the user (reconnect()) tries again. */
  private refused = false;
  /** A read position asked for while not connected (a panel open during the join): sent once connected. */
  private unsentRead: { messageId: string; seq: number } | undefined;
  /**
   * A send was refused by a store that still serves reads (4100 to a send): the joins succeed, so a
   * join must not restart the reconnect schedule, or the client would reconnect without pause.
   * An ack (the store writes again) does.
   */
  private sendsRefused = false;
  /** Rejoins after 4005 since the last ack. */
  private rejoins = 0;
  /** The try under way began while the browser said it was offline. */
  private triedOffline = false;
  /** Set by stop(): nothing connects again. */
  private disposed = false;

  constructor(private readonly o: EngineOptions) {}

  private get conversationId(): string {
    return this.o.conversation.conversationId;
  }

  start(): void {
    if (this.state === 'idle') void this.connect();
  }

  /**
   * A reason to try again now (online, page visible, a send, the user): restarts the schedule once
   * it is spent (stopped, offline). While it waits, only the user cuts it short: a visitor typing
   * through an outage would otherwise open a socket with every message.
   */
  wake(manual = false): void {
    if (this.refused && !manual) return;
    this.refused = false;
    const spent = this.state === 'stopped' || this.state === 'offline';
    // A socket still opening may hang on a dead link until its open timeout (a try made offline: a send must try):
    // back online, or the user asking, try anew. Not a try further on (an auth answered soon). A token still
    // being fetched only for the user: a provider that failed offline has said so already.
    const opening = this.state === 'connecting' && this.socket?.readyState === WebSocket.CONNECTING;
    const fetching = this.state === 'connecting' && !this.socket;
    const hanging = (opening && (manual || (this.triedOffline && navigator.onLine !== false))) || (fetching && manual);
    if (spent || hanging || (manual && (this.state === 'reconnecting' || this.state === 'auth-failed' || this.state === 'replaced'))) {
      if (manual && this.state === 'auth-failed') this.tokenRefreshed = false;
      this.attempt = 0;
      clearTimeout(this.reconnectTimer);
      void this.connect(manual && this.state === 'auth-failed');
    } else if (this.state === 'connected') {
      this.checkHeartbeat();
    }
  }

  /**
   * The browser lost its network. The socket may stay open for a while, silently carrying nothing
   * (until the heartbeat notices), and sends on it would run into their retry limit and fail:
   * drop it now, put what was on the wire back in the queue, and wait for `online`.
   */
  offline(): void {
    // A conversation refused (4003) stays stopped: `online` would not try it again either.
    if (this.disposed || this.refused || ['idle', 'offline', 'auth-failed', 'replaced'].includes(this.state)) return;
    this.cleanupSocket();
    clearTimeout(this.reconnectTimer);
    this.setState('offline');
  }

  /** Closes for good (the element left the page, or the client was closed). */
  stop(): void {
    this.disposed = true;
    this.cleanupSocket();
    clearTimeout(this.reconnectTimer);
    this.setState('stopped');
  }

  private setState(state: ConnectionState, error?: ClientError): void {
    if (state === this.state && !error) return;
    const previous = this.state;
    this.state = state;
    this.o.emit('state', error ? { state, previous, error } : { state, previous });
  }

  private async connect(freshToken = false): Promise<void> {
    if (this.disposed) return;
    this.cleanupSocket();
    this.triedOffline = navigator.onLine === false;
    const generation = this.generation;
    this.setState('connecting');
    // A token provider that does not answer is given up like a socket that does not open.
    this.openTimer = setTimeout(() => this.abandon(), this.o.timing.openTimeoutMs);
    let token: string;
    try {
      token = freshToken || this.tokenRefused ? await this.o.tokens.refresh() : await this.o.tokens.get();
      // A fresh token came, even after its try was given up (a provider slower than the open timeout): the next try takes it.
      this.tokenRefused = false;
    } catch (error) {
      if (generation !== this.generation) return; // offline, stopped or started again meanwhile
      clearTimeout(this.openTimer);
      // A provider that could not reach its server while offline has not refused anyone.
      if (navigator.onLine === false) return this.setState('offline');
      if (error instanceof NoToken) return this.setState('auth-failed', { code: ErrorCode.AUTH_FAILED, message: error.message });
      // Its server down, say: tried again as a connection is.
      this.o.emit('error', providerFailed(error));
      return this.scheduleReconnect();
    }
    if (generation !== this.generation || this.state !== 'connecting') return; // offline, stopped or started again meanwhile
    clearTimeout(this.openTimer);
    let socket: WebSocket;
    try {
      socket = new this.o.WebSocket(this.o.url);
    } catch (error) {
      this.o.emit('error', { code: 0, message: `cannot open ${this.o.url}: ${error instanceof Error ? error.message : String(error)}` });
      return this.scheduleReconnect();
    }
    this.socket = socket;
    this.openTimer = setTimeout(() => this.abandon(), this.o.timing.openTimeoutMs);
    socket.onopen = () => {
      // The same time again for the auth answer: a server that answers pings but not the auth would hold the client for good.
      clearTimeout(this.openTimer);
      this.openTimer = setTimeout(() => this.abandon(), this.o.timing.openTimeoutMs);
      this.setState('authenticating');
      this.lastFrameAt = stamp();
      this.startHeartbeat();
      this.sendFrame(clientFrame('auth', this.o.deviceId ? { token, device_id: this.o.deviceId } : { token }));
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => this.closed(event.code, event.reason);
  }

  private closed(code: number, reason: string): void {
    this.cleanupSocket();
    const terminal = TERMINAL[code];
    if (code === CloseCode.AUTH_FAILED && this.o.tokens.canRefresh && !this.tokenRefreshed) {
      // An expired or refused token: ask the provider once for a fresh one.
      this.tokenRefreshed = true;
      this.tokenRefused = true;
      void this.connect();
      return;
    }
    if (terminal) return this.setState(terminal, { code, message: reason || terminal });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delay = reconnectDelay(this.attempt++, this.o.timing.reconnectDelaysMs, this.o.timing.jitter, this.o.random);
    // Offline, every try would fail: `online` starts over instead.
    if (navigator.onLine === false) return this.setState('offline');
    if (delay === null) return this.setState('stopped');
    this.setState('reconnecting');
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  private cleanupSocket(): void {
    this.generation++;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      if (socket.readyState === socket.CONNECTING || socket.readyState === socket.OPEN) socket.close(1000);
    }
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.openTimer);
    clearTimeout(this.joinTimer);
    clearTimeout(this.pauseTimer);
    this.joinId = undefined;
    this.pingSentAt = undefined;
    this.requeueInFlight();
    for (const resolve of this.pages.values()) resolve(undefined);
    this.pages.clear();
    this.unmerged.clear();
  }

  /** What was on the wire goes back in the queue: the next join's flush sends it again, with the same id. */
  private requeueInFlight(): void {
    for (const [id, sending] of this.inFlight) {
      clearTimeout(sending.timer);
      this.o.changed([this.o.conversation.setPendingStatus(id, 'queued')]);
    }
    this.inFlight.clear();
  }

  /** Drops a socket that stopped answering and reconnects, as if it had closed. */
  private abandon(): void {
    this.cleanupSocket();
    this.scheduleReconnect();
  }

  private sendFrame(frame: ClientFrame): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  // ---- heartbeat ----

  private startHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.checkHeartbeat(), this.o.timing.heartbeatTickMs);
  }

  /**
   * Elapsed time is read from the clocks, not counted in timer ticks: timers stall while a laptop
   * sleeps or a phone app is in the background, and on wake a silence longer than ping plus
   * pong timeout means the socket is gone.
   */
  checkHeartbeat(): void {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    const { pingAfterMs, pongTimeoutMs } = this.o.timing;
    const silent = since(this.lastFrameAt);
    if (this.pingSentAt ? since(this.pingSentAt) >= pongTimeoutMs : silent >= pingAfterMs + pongTimeoutMs) return this.abandon();
    if (!this.pingSentAt && silent >= pingAfterMs) {
      this.pingSentAt = stamp();
      this.sendFrame(clientFrame('ping', {}));
    }
  }

  // ---- frames ----

  private receive(data: unknown): void {
    this.lastFrameAt = stamp();
    this.pingSentAt = undefined;
    const decoded = decodeServerFrame(data);
    if (!decoded.ok) {
      this.o.emit('error', { code: ErrorCode.BAD_REQUEST, message: `the server sent a frame this client does not understand: ${decoded.error.message}` });
      // The join's history, unreadable: waiting on would leave the client joining for good. A frame of a kind
      // this client does not know (a newer server's) is no reason to leave.
      const type = /^\s*\{\s*"type"\s*:\s*"([^"]*)"/.exec(String(data))?.[1];
      if (this.state === 'joining' && (type === undefined || type === 'history')) this.abandon();
      return;
    }
    const frame = decoded.frame;
    switch (frame.type) {
      case 'auth':
        clearTimeout(this.openTimer);
        this.tokenRefreshed = false;
        return this.join();
      case 'message_ack':
        return this.acked(frame);
      case 'history':
        return void this.historyArrived(frame);
      case 'new_message':
        return void this.newMessage(frame.payload);
      case 'typing':
        if (frame.payload.user_id === this.o.conversation.selfId) return; // this user typing on another device
        return this.o.emit('typing', { user_id: frame.payload.user_id, is_typing: frame.payload.is_typing });
      case 'error':
        return this.serverError(frame.payload);
      case 'ping':
        this.sendFrame(clientFrame('pong', {}));
        return;
      case 'pong':
        return;
    }
  }

  private join(): void {
    this.setState('joining');
    this.requeueInFlight(); // a rejoin (4005) with a send out: its retries would wait for 'connected', and the flush for it
    // A tab that took the socket over has no mark of its own if it started before the first join; and what the other tab held counts.
    this.o.conversation.markFromHeld();
    const lastSeq = (this.joinFrom = this.o.conversation.syncedSeq);
    this.heldAtJoin = this.o.conversation.highestSeq();
    const frame = clientFrame('join_room', lastSeq ? { conversation_id: this.conversationId, last_seq: lastSeq } : { conversation_id: this.conversationId });
    this.joinId = frame.message_id;
    clearTimeout(this.joinTimer);
    this.joinTimer = setTimeout(() => this.abandon(), this.o.timing.joinTimeoutMs);
    this.sendFrame(frame);
  }

  private acked(frame: ServerFrameOf<'message_ack'>): void {
    const ack = frame.payload;
    if (ack.status === 'read') {
      // This user read on another device: that is this user's read position, not the peer's.
      if (ack.user_id === this.o.conversation.selfId) return this.readUpTo(ack.seq);
      this.o.emit('read', { user_id: ack.user_id, seq: ack.seq });
      this.peerRead(ack.seq);
      return;
    }
    if (ack.message_id === this.joinId) {
      clearTimeout(this.joinTimer);
      return;
    }
    if (ack.seq === undefined || ack.created_at === undefined) return;
    const pending = this.o.conversation.get(ack.message_id);
    if (!pending) return;
    void this.stored({
      message_id: ack.message_id,
      conversation_id: this.conversationId,
      seq: ack.seq,
      sender_id: pending.sender_id,
      sender_role: pending.sender_role,
      content: pending.content,
      content_type: 'text',
      created_at: ack.created_at,
    });
  }

  /** A message is stored on the server: out of the outbox, into the cache. */
  private async stored(message: ChatMessage): Promise<void> {
    this.sendsAccepted(); // the store takes messages again
    this.rejoins = 0;
    this.settle(message.message_id);
    const written = Promise.all([this.o.store().putMessages([message]), this.o.store().removeOutbox(message.message_id)]).catch(() => undefined);
    this.o.changed([this.o.conversation.addStored(message)], written);
    this.advance();
    void this.flush(); // the next one
    await written;
  }

  private async newMessage(message: ChatMessage): Promise<void> {
    // A gap (a delivery lost between server instances): fetch what lies between. While joining, the join's page does.
    this.o.conversation.advanceSynced();
    if (this.state === 'connected' && message.seq > this.o.conversation.syncedSeq + 1) void this.fetchForward();
    if (message.sender_id === this.o.conversation.selfId) await this.stored(message);
    else {
      const written = this.o.store().putMessages([message]).catch(() => undefined);
      this.o.changed([this.o.conversation.addStored(message)], written);
      this.advance();
      await written;
    }
  }

  private async historyArrived(frame: ServerFrameOf<'history'>): Promise<void> {
    const page = frame.payload;
    const waiting = frame.message_id && this.pages.get(frame.message_id);
    if (waiting) {
      this.pages.delete(frame.message_id!);
      if (!this.unmerged.delete(frame.message_id!)) {
        await this.merge(page.messages);
        this.peerRead(page.peer_read_seq);
      }
      waiting(page);
      return;
    }
    // The contract ties a history request's answer by id, not the join's replay: one without an id answers a join under way.
    if (!this.joinId || (frame.message_id ? frame.message_id !== this.joinId : this.state !== 'joining')) return;
    clearTimeout(this.joinTimer);
    const joinId = this.joinId;
    const held = this.heldAtJoin;
    let shown: HistoryPage | undefined = page;
    // The server's store is behind this copy: it was reset. Take the server's version.
    if (held > page.last_seq) await this.dropCopy(page.last_seq);
    else if (held === 0) this.o.conversation.joinedAtSeq ??= page.last_seq;
    else if (!(await this.checkedSameStore(held))) {
      // Reset, and grown past this copy's numbering since: the join's page continues another conversation.
      if (this.joinId !== joinId) return; // the socket went while it was asked: the next join asks again
      await this.dropCopy(page.last_seq);
      shown = await this.request({ limit: 50 }, false); // the newest page, as a join without last_seq gets
    }
    if (this.joinId !== joinId || !shown) return;
    await this.merge(shown.messages);
    if (this.joinId !== joinId) return; // the socket went while the page was written (offline, say): not connected
    // A page that continues what is held goes on after its last message; any other ends at the conversation's last.
    const continues = shown === page && this.joinFrom > 0 && page.has_more && page.messages.length > 0;
    this.advance(continues ? page.messages.at(-1)!.seq : shown.last_seq);
    this.readUpTo(page.read_seq);
    // Read here further than the server knows: the receipt went out on a socket that died unnoticed. Said again.
    const read = this.o.conversation.readSeq > page.read_seq && this.o.conversation.list().find((m) => m.seq === this.o.conversation.readSeq);
    if (read) this.sendFrame(clientFrame('message_ack', { message_id: read.message_id, status: 'read' }));
    this.peerRead(page.peer_read_seq);
    if (!this.sendsRefused) this.attempt = 0;
    this.setState('connected');
    if (this.unsentRead) this.markRead(this.unsentRead.messageId, this.unsentRead.seq);
    if (continues) void this.fetchForward();
    // A new connection gets everything unacked, the failed ones too (never stored), but not those the server refused as they are.
    void this.flush(true);
  }

  /** Drops this copy of the conversation (the server's store was reset): the server's is the one now. */
  private async dropCopy(lastSeq: number): Promise<void> {
    this.o.conversation.dropStored();
    this.unsentRead = undefined; // a position in the old numbering
    this.o.conversation.joinedAtSeq = lastSeq;
    this.o.emit('reset', { last_seq: lastSeq }); // before any wait: a message arriving meanwhile must come after it in every tab
    await this.o.store().clearConversation(this.conversationId).catch(() => undefined);
  }

  /**
   * A store that was reset and has grown past this copy's numbering since gives a join no sign of
   * it: the server's message at the highest seq held here must be the one held here. Asked before
   * the join's page is merged, so that a check cut short is simply made again on the next join.
   */
  private async checkedSameStore(seq: number): Promise<boolean> {
    // A store that stalls on this question must not leave the client joining for good.
    const timer = (this.joinTimer = setTimeout(() => this.abandon(), this.o.timing.joinTimeoutMs));
    try {
      return await this.sameStore(seq);
    } finally {
      clearTimeout(timer); // this one only: a rejoin meanwhile (4005) has its own
    }
  }

  private async sameStore(seq: number): Promise<boolean> {
    const ours = this.o.conversation.list().find((m) => m.seq === seq);
    const page = await this.request({ before_seq: seq + 1, limit: 1 }, false);
    return !page || page.messages[0]?.message_id === ours?.message_id;
  }

  private async merge(messages: readonly ChatMessage[]): Promise<void> {
    if (!messages.length) return;
    const own = messages.filter((m) => m.sender_id === this.o.conversation.selfId);
    const written = Promise.all([this.o.store().putMessages(messages), ...own.map((m) => this.o.store().removeOutbox(m.message_id))]).catch(() => undefined);
    this.o.changed(messages.map((m) => this.o.conversation.addStored(m)), written);
    if (messages.some((m) => this.inFlight.has(m.message_id))) {
      for (const m of messages) this.settle(m.message_id);
      void this.flush(); // the one on the wire was stored meanwhile: the next one
    }
    await written;
  }

  private peerRead(seq: number): void {
    this.o.changed(this.o.conversation.peerRead(seq));
    this.saveReads();
  }

  /** Moves the synced mark (see Conversation.syncedSeq) and keeps it: a reload joins from it too. */
  private advance(seq = 0): void {
    if (this.o.conversation.advanceSynced(seq)) this.saveReads();
  }

  private saveReads(): void {
    const { readSeq, peerReadSeq, syncedSeq } = this.o.conversation;
    void this.o.store().putReadState(this.conversationId, { read_seq: readSeq, peer_read_seq: peerReadSeq, synced_seq: syncedSeq }).catch(() => undefined);
  }

  private serverError(error: ServerFrameOf<'error'>['payload']): void {
    const { code, message_id, retry_after_ms } = error;
    this.o.emit('error', { code, message: error.message, ...(message_id ? { message_id } : {}), ...(retry_after_ms !== undefined ? { retry_after_ms } : {}) });
    const isSend = message_id !== undefined && this.inFlight.has(message_id);
    if (isSend) clearTimeout(this.inFlight.get(message_id)!.timer);
    // A history request refused: answered with nothing, rather than left waiting until the socket goes.
    const page = message_id === undefined ? undefined : this.pages.get(message_id);
    if (page) {
      this.pages.delete(message_id!);
      this.unmerged.delete(message_id!);
      page(undefined);
    }
    switch (code) {
      case ErrorCode.NOT_IN_ROOM:
        // Join again; the join's history triggers a flush that resends what is unacked. A server that answers
        // every send so (its rooms lost) is left to the reconnect schedule, which the joins must not restart.
        if (++this.rejoins <= REJOINS) return this.join();
        this.sendsRefused = true;
        return this.abandon();
      case ErrorCode.RATE_LIMITED:
        if (isSend) this.settle(message_id);
        this.o.changed([message_id ? this.o.conversation.setPendingStatus(message_id, 'queued') : undefined]);
        this.pausedUntil = performance.now() + (error.retry_after_ms ?? 1000);
        return this.schedulePausedFlush();
      case ErrorCode.SERVER_ERROR:
        // Nothing was stored: keep the message, reconnect with backoff, resend then.
        if (isSend) this.sendsRefused = true;
        return this.abandon();
      case ErrorCode.FORBIDDEN:
        // The conversation refused (to the join, or to a send on it): stop, as the contract says.
        if (message_id === this.joinId || isSend) {
          this.cleanupSocket();
          clearTimeout(this.reconnectTimer);
          this.refused = true;
          this.setState('stopped', { code, message: error.message });
        }
        return;
      case ErrorCode.BAD_REQUEST:
        // The server will never take this message as it is: keep it, failed, for the user to see.
        if (isSend) void this.fail(message_id, true);
        return;
      default:
        // A close code sent as an error (4001, 4009) to a send: start over on a new socket rather than leave it out for good.
        if (isSend) {
          this.sendsRefused = true;
          this.abandon();
        }
        return;
    }
  }

  // ---- the outbox ----

  /** Sends the oldest queued message of the outbox, unless one is on the wire already; each answer sends the next. */
  flush(retryFailed = false): Promise<void> {
    this.retryFailed ||= retryFailed;
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      do {
        this.flushAgain = false;
        const retry = this.retryFailed;
        this.retryFailed = false;
        await this.flushOnce(retry);
      } while (this.flushAgain);
    })().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /**
   * One message on the wire at a time: the server judges each on its own, so with several out at
   * once a later one could take a slot of the rate limit that freed up just after an earlier one
   * was refused (4008), and be stored before it. One round trip a message is far faster than the
   * limit of 30 a minute lets anyone send.
   */
  private async flushOnce(retryFailed: boolean): Promise<void> {
    if (this.state !== 'connected') return;
    const entries = await this.o.store().outbox(this.conversationId).catch(() => []);
    let next: OutboxEntry | undefined;
    for (let entry of entries) {
      const fits = sendFits(this.conversationId, entry.content);
      // One too large for a frame (written by an older version) fails here, never on the wire: the server would close every socket it went out on.
      if (entry.status === 'failed' ? retryFailed && fits && !entry.refused : !fits) {
        entry = { ...entry, status: fits ? 'queued' : 'failed' };
        await this.o.store().putOutbox(entry).catch(() => undefined);
      }
      this.o.changed([this.o.conversation.addPending(entry)]);
      if (!next && entry.status !== 'failed' && this.o.conversation.get(entry.message_id)?.seq === undefined) next = entry;
    }
    if (!next) return this.sendsAccepted(); // nothing left that the store refused (stored after all, or failed)
    if (this.inFlight.size) return;
    if (performance.now() < this.pausedUntil) return this.schedulePausedFlush();
    if (this.state !== 'connected') return;
    this.transmit(next.message_id, next.content, 1);
  }

  private transmit(messageId: string, content: string, tries: number): void {
    if (!this.sendFrame(clientFrame('send_message', { conversation_id: this.conversationId, content, content_type: 'text' }, messageId))) return;
    this.o.changed([this.o.conversation.setPendingStatus(messageId, 'sending')]);
    const timer = setTimeout(() => {
      if (!this.inFlight.has(messageId) || this.state !== 'connected') return;
      if (tries < this.o.timing.sendTries) this.transmit(messageId, content, tries + 1);
      else void this.fail(messageId);
    }, this.o.timing.sendRetryMs);
    this.inFlight.set(messageId, { tries, timer });
  }

  /** The send is answered (acked, refused or given up): no more retries for it on this socket. */
  private settle(messageId: string): void {
    clearTimeout(this.inFlight.get(messageId)?.timer);
    this.inFlight.delete(messageId);
  }

  private async fail(messageId: string, refused = false): Promise<void> {
    // This try, and no other: answered meanwhile, or sent again on a new socket, it is not failed.
    const sending = this.inFlight.get(messageId);
    const current = () => sending !== undefined && this.inFlight.get(messageId) === sending;
    const entries = await this.o.store().outbox(this.conversationId).catch(() => []);
    const entry = entries.find((e) => e.message_id === messageId);
    if (!current()) return;
    if (entry) await this.o.store().putOutbox({ ...entry, status: 'failed', refused }).catch(() => undefined);
    if (!current()) return;
    // Settled only now: a flush meanwhile would have found it queued and sent it again.
    this.settle(messageId);
    this.o.changed([this.o.conversation.setPendingStatus(messageId, 'failed')]);
    // A refusal was reported as the server said it; a silence is reported here.
    if (!refused) this.o.emit('error', { code: 0, message: 'not sent: the server did not answer; retry() sends it again', message_id: messageId });
    void this.flush(); // the next one
  }

  /** No send waits on a store that refuses writes (any more): a join restarts the reconnect schedule again. */
  private sendsAccepted(): void {
    if (!this.sendsRefused) return;
    this.sendsRefused = false;
    this.attempt = 0;
  }

  private schedulePausedFlush(): void {
    clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(() => void this.flush(), Math.max(0, this.pausedUntil - performance.now()));
  }

  // ---- requests from the client ----

  setTyping(isTyping: boolean): void {
    if (this.state === 'connected') this.sendFrame(clientFrame('typing', { conversation_id: this.conversationId, is_typing: isTyping }));
  }

  markRead(messageId: string, seq: number): void {
    if (seq > Math.max(this.o.conversation.readSeq, this.unsentRead?.seq ?? 0)) this.unsentRead = { messageId, seq };
    const read = this.unsentRead;
    if (!read || read.seq <= this.o.conversation.readSeq) {
      this.unsentRead = undefined; // nothing new, or read on another device meanwhile
      return;
    }
    // Not connected (a panel open while the join is under way): kept, and sent once connected.
    if (this.state !== 'connected' || !this.sendFrame(clientFrame('message_ack', { message_id: read.messageId, status: 'read' }))) return;
    this.unsentRead = undefined;
    this.readUpTo(read.seq);
  }

  /** This user's read position moved (read here, or on another device): kept, and every tab hears of it. */
  private readUpTo(seq: number): void {
    if (seq <= this.o.conversation.readSeq) return;
    this.o.conversation.readSeq = seq;
    this.saveReads();
    this.o.emit('seen', { seq });
  }

  /** Older messages before the oldest held; resolves whether even older ones exist. */
  async loadOlder(limit = 50): Promise<boolean> {
    const lowest = this.o.conversation.lowestSeq();
    if (lowest === 1) return false;
    const page = await this.request(lowest === undefined ? { limit } : { before_seq: lowest, limit });
    return page?.has_more ?? true;
  }

  /** Fetches every message after those held without a gap, page by page (gap repair, long replays). */
  private async fetchForward(): Promise<void> {
    if (this.forwarding) return void (this.forwardAgain = true); // the one under way goes on from where it gets to
    this.forwarding = true;
    try {
      for (;;) {
        this.forwardAgain = false;
        const page = await this.request({ after_seq: this.o.conversation.syncedSeq, limit: 100 });
        if (!page) return;
        const more = page.has_more && page.messages.length > 0;
        this.advance(more ? page.messages.at(-1)!.seq : page.last_seq);
        if (!more && !this.forwardAgain) return;
      }
    } finally {
      this.forwarding = false;
    }
  }

  /** A page of history, merged into the conversation unless `merge` is false. */
  private request(query: { before_seq?: number; after_seq?: number; limit: number }, merge = true): Promise<HistoryPage | undefined> {
    const frame = clientFrame('history', { conversation_id: this.conversationId, ...query });
    return new Promise((resolve) => {
      if ((this.state !== 'connected' && this.state !== 'joining') || !this.sendFrame(frame)) return resolve(undefined);
      this.pages.set(frame.message_id, resolve);
      if (!merge) this.unmerged.add(frame.message_id);
    });
  }
}
