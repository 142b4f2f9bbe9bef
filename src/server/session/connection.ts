import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { CloseCode, serverFrame, type ChatMessage, type ServerFrame } from '../../protocol/index.js';
import type { Identity } from '../auth/token-verifier.js';
import type { Hub } from './hub.js';

/** One joined conversation as this connection sees it. */
interface RoomState {
  /** Highest seq sent to this connection as history or new_message: frames go out in seq order, each once. */
  delivered: number;
  /** Messages that arrived while the join's history was being read; delivered after it. */
  pending: ChatMessage[] | null;
  /** Deliveries run one after another, so a catch-up from the store cannot reorder them. */
  chain: Promise<void>;
}

const CATCH_UP_PAGE = 100;
/**
 * A client that does not read its socket makes the server hold everything sent to it (a history
 * request of 100 large messages answers with megabytes): past this, it is dropped. Above the
 * largest frame the server sends (a join's replay, about 33 MiB at most), so a client that reads
 * is never dropped for one; it reconnects and catches up.
 */
const MAX_UNSENT_BYTES = 64 * 1024 * 1024;

const sendKey = (conversationId: string, messageId: string) => `${conversationId}\u0000${messageId}`;
const storedAck = (m: ChatMessage) => serverFrame('message_ack', { message_id: m.message_id, status: 'received', seq: m.seq, created_at: m.created_at });
/** setTimeout's longest delay; a token further out is checked again when this one fires. */
const MAX_TIMER_MS = 2_147_483_647;

/** A close frame's reason holds at most 123 bytes of UTF-8; a longer one makes ws throw. */
export function closeReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

export type ConnectionState = 'awaiting-auth' | 'authed' | 'closed';

/** The per-socket state: awaiting-auth → authed (joining conversations) → closed. */
export class Connection {
  readonly id = randomUUID();
  state: ConnectionState = 'awaiting-auth';
  identity: Identity | undefined;
  deviceId: string | undefined;
  badFrames = 0;
  lastFrameAt = Date.now();
  pinged = false;
  private readonly rooms = new Map<string, RoomState>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /**
   * This connection's sends still being stored, by conversation and message_id: `pending` not yet answered,
   * `early` already acked by delivery. The sender must get its ack before the new_message, and a
   * catch-up can reach the message before its own send finishes.
   */
  private readonly sends = new Map<string, { pending: number; early: number }>();

  constructor(
    private readonly socket: WebSocket,
    private readonly hub: Hub,
  ) {}

  get open(): boolean {
    return this.state !== 'closed' && this.socket.readyState === this.socket.OPEN;
  }

  send(frame: ServerFrame): void {
    if (!this.open) return;
    this.socket.send(JSON.stringify(frame));
    if (this.socket.bufferedAmount > MAX_UNSENT_BYTES) {
      this.hub.log.warn({ connection: this.id, user: this.identity?.userId, bytes: this.socket.bufferedAmount }, 'dropped a client that does not read its socket');
      this.close(CloseCode.POLICY_VIOLATION, 'not reading');
      this.socket.terminate(); // its close frame would wait behind what it does not read
      return;
    }
    this.hub.metrics.framesOut.inc({ type: frame.type });
    if (frame.type === 'error') this.hub.metrics.errors.inc({ code: frame.payload.code });
  }

  close(code: number, reason = ''): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimers();
    this.hub.metrics.closes.inc({ code });
    try {
      this.socket.close(code, closeReason(reason));
    } catch {
      this.socket.terminate(); // never leave a socket open that this side considers closed
    }
  }

  /** Called once the socket is gone, whoever closed it. */
  closed(): void {
    this.state = 'closed';
    this.clearTimers();
  }

  after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, Math.min(ms, MAX_TIMER_MS));
    this.timers.add(timer);
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Closes 4001 when the token's exp passes. */
  watchExpiry(expiresAt: Date): void {
    const left = expiresAt.getTime() - Date.now();
    if (left <= 0) this.close(CloseCode.AUTH_FAILED, 'token expired');
    else this.after(left, () => this.watchExpiry(expiresAt));
  }

  beginSend(conversationId: string, messageId: string): void {
    const key = sendKey(conversationId, messageId);
    const entry = this.sends.get(key) ?? { pending: 0, early: 0 };
    entry.pending++;
    this.sends.set(key, entry);
  }

  /** Acks a finished send, unless a delivery already acked it (ahead of its new_message). */
  finishSend(conversationId: string, messageId: string, stored?: ChatMessage): void {
    const key = sendKey(conversationId, messageId);
    const entry = this.sends.get(key);
    if (entry) {
      entry.pending--;
      const acked = entry.early > 0;
      if (acked) entry.early--;
      if (entry.pending <= 0) this.sends.delete(key);
      if (acked) return;
    }
    if (stored) this.send(storedAck(stored));
  }

  /** Before a new_message: the sender's ack, if its send is still being answered (its own message, in that conversation: not another's with the same id). */
  private ackAhead(message: ChatMessage): void {
    if (message.sender_id !== this.identity?.userId) return;
    const entry = this.sends.get(sendKey(message.conversation_id, message.message_id));
    if (!entry || entry.pending <= entry.early) return;
    entry.early++;
    this.send(storedAck(message));
  }

  conversations(): Iterable<string> {
    return this.rooms.keys();
  }

  isIn(conversationId: string): boolean {
    return this.rooms.get(conversationId)?.pending === null;
  }

  /**
   * Starts a join: deliveries are held until `finishJoin` says what the history covered. Returns
   * what was delivered to an earlier join of it still in force, which a failed join again goes back to.
   */
  beginJoin(conversationId: string): number | undefined {
    const existing = this.rooms.get(conversationId);
    this.rooms.set(conversationId, { delivered: 0, pending: [], chain: existing?.chain ?? Promise.resolve() });
    return existing?.pending === null ? existing.delivered : undefined;
  }

  finishJoin(conversationId: string, delivered: number): void {
    const room = this.rooms.get(conversationId);
    if (!room) return;
    const held = room.pending ?? [];
    room.delivered = delivered;
    room.pending = null;
    for (const message of held) this.deliver(message);
  }

  forget(conversationId: string): void {
    this.rooms.delete(conversationId);
  }

  /** Sends a new message in seq order, at most once, fetching any gap before it from the store. */
  deliver(message: ChatMessage): void {
    const room = this.rooms.get(message.conversation_id);
    if (!room) return;
    if (room.pending) {
      room.pending.push(message);
      return;
    }
    room.chain = room.chain.then(async () => {
      if (message.seq <= room.delivered) return;
      if (message.seq > room.delivered + 1) await this.fill(message.conversation_id, room, message.seq - 1);
      if (message.seq <= room.delivered) return;
      this.ackAhead(message);
      this.send(serverFrame('new_message', message));
      room.delivered = message.seq;
    });
  }

  /** Sends whatever the store holds past what this connection has seen (after the bus lost deliveries). */
  catchUp(conversationId: string): void {
    const room = this.rooms.get(conversationId);
    if (!room || room.pending) return;
    room.chain = room.chain.then(() => this.fill(conversationId, room, Number.MAX_SAFE_INTEGER));
  }

  private async fill(conversationId: string, room: RoomState, upTo: number): Promise<void> {
    try {
      for (;;) {
        const page = await this.hub.store.history(conversationId, { after_seq: room.delivered, limit: CATCH_UP_PAGE });
        for (const message of page.messages) {
          if (message.seq > upTo || !this.open || this.rooms.get(conversationId) !== room) return;
          this.ackAhead(message);
          this.send(serverFrame('new_message', message));
          room.delivered = message.seq;
        }
        if (!page.has_more || !page.messages.length) return;
      }
    } catch (error) {
      // The client sees the gap in seq and asks for it with `history`.
      this.hub.log.warn({ err: error, conversationId }, 'catch-up from the store failed');
    }
  }
}
