// A small WebSocket test client for black-box tests of the chat server.
//
// Every frame the server sends is parsed, validated against the protocol's
// server-frame schemas (violations are collected in `invalid`), appended to
// `log` and put in a buffer. `next(predicate)` takes the first buffered frame
// that matches, or waits for one; frames that do not match stay buffered for
// later calls, so no frame is ever lost by awaiting in the "wrong" order.
import WebSocket from 'ws';
import { clientFrame, decodeServerFrame, MAX_FRAME_BYTES, newMessageId, utf8Length } from '../../src/protocol/index.js';
import { makeToken } from './tokens.js';
import type { TokenOptions } from './tokens.js';

/** A server frame as received (loosely typed so tests can look at anything). */
export interface Frame {
  type: string;
  payload: Record<string, any>;
  message_id?: string;
  timestamp?: string;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export type Predicate = (frame: Frame) => boolean;

export interface ConnectOptions {
  /** Origin header; none is sent when undefined (like a non-browser client). */
  origin?: string;
  /** Answer every server `ping` with a `pong` (default false, so idle tests stay idle). */
  autoPong?: boolean;
  /** How long to wait for the upgrade; default 5 s. */
  timeoutMs?: number;
}

export interface JoinResult {
  /** The join_room frame's message_id. */
  id: string;
  /** The answer tied to it: a message_ack, or an error. */
  ack: Frame;
  /** The history frame that followed the ack (undefined when the join was refused). */
  history?: Frame;
}

export const DEFAULT_TIMEOUT_MS = 3_000;

const open = new Set<TestClient>();
const everyClient: TestClient[] = [];

/**
 * Every schema violation seen by any client of this process so far (frames that are not JSON,
 * of an unknown type, or whose envelope or payload does not match PROTOCOL.md's schemas).
 */
export function schemaViolations(): { type: string; problem: string; raw: string }[] {
  return everyClient.flatMap((c) => c.invalid.map((v) => ({ type: /"type":"(\w+)"/.exec(v.raw)?.[1] ?? '?', problem: v.problem, raw: v.raw.slice(0, 300) })));
}

/** Closes every client still open (for after/afterEach hooks). */
export async function closeAllClients(): Promise<void> {
  await Promise.all([...open].map((c) => c.terminate()));
}

/** Frame predicates used all over the tests. */
export const is = {
  type: (type: string): Predicate => (f) => f.type === type,
  /** An ack or error whose payload.message_id is `id`. */
  answerTo: (id: string): Predicate => (f) => (f.type === 'message_ack' || f.type === 'error') && f.payload.message_id === id && f.payload.status !== 'read',
  /** A history frame tied to a request by its envelope message_id, or an error about that request. */
  historyAnswer: (id: string): Predicate => (f) => (f.type === 'history' && f.message_id === id) || (f.type === 'error' && f.payload.message_id === id),
  newMessage: (conversationId?: string, messageId?: string): Predicate => (f) =>
    f.type === 'new_message' && (conversationId === undefined || f.payload.conversation_id === conversationId) && (messageId === undefined || f.payload.message_id === messageId),
  history: (conversationId: string): Predicate => (f) => f.type === 'history' && f.payload.conversation_id === conversationId,
  typing: (conversationId?: string): Predicate => (f) => f.type === 'typing' && (conversationId === undefined || f.payload.conversation_id === conversationId),
  readAck: (messageId?: string): Predicate => (f) => f.type === 'message_ack' && f.payload.status === 'read' && (messageId === undefined || f.payload.message_id === messageId),
  error: (code?: number): Predicate => (f) => f.type === 'error' && (code === undefined || f.payload.code === code),
};

interface Waiter {
  predicate: Predicate;
  resolve: (frame: Frame) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class TestClient {
  readonly ws: WebSocket;
  /** Every frame received, in arrival order (including those already taken by next()). */
  readonly log: Frame[] = [];
  /** Raw text frames that were not JSON or did not match the protocol's server-frame schemas. */
  readonly invalid: { raw: string; problem: string }[] = [];
  /**
   * Frames over MAX_FRAME_BYTES (64 KiB). Kept apart from `invalid`: PROTOCOL.md only says the
   * server refuses such frames, while the widget's decodeServerFrame also refuses them.
   */
  readonly oversized: { type: string; bytes: number }[] = [];
  /** Settles when the socket closes, with the close code and reason (never rejects). */
  readonly closed: Promise<CloseInfo>;
  #closeInfo: CloseInfo | undefined;
  readonly #buffer: Frame[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly #autoPong: boolean;

  constructor(ws: WebSocket, opts: { autoPong?: boolean } = {}) {
    this.ws = ws;
    this.#autoPong = opts.autoPong ?? false;
    open.add(this);
    everyClient.push(this);
    this.closed = new Promise<CloseInfo>((resolve) => {
      ws.on('close', (code, reason) => {
        open.delete(this);
        this.#closeInfo = { code, reason: reason.toString('utf8') };
        for (const w of this.#waiters) {
          clearTimeout(w.timer);
          w.reject(new Error(`socket closed (${code} ${this.#closeInfo.reason}) while waiting for a frame`));
        }
        this.#waiters.clear();
        resolve(this.#closeInfo);
      });
    });
    ws.on('error', () => {
      // A 'close' always follows; errors (e.g. 1009 from a peer) are reported through it.
    });
    ws.on('message', (data, isBinary) => this.#receive(data, isBinary));
  }

  #receive(data: WebSocket.RawData, isBinary: boolean): void {
    const raw = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    if (isBinary) this.invalid.push({ raw, problem: 'binary frame (the protocol uses text frames only)' });
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      this.invalid.push({ raw, problem: 'not JSON' });
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.invalid.push({ raw, problem: 'not a JSON object' });
      return;
    }
    const frame = parsed as Frame;
    const bytes = utf8Length(raw);
    if (bytes > MAX_FRAME_BYTES) this.oversized.push({ type: String(frame.type), bytes });
    const decoded = decodeServerFrame(raw);
    if (!decoded.ok) this.invalid.push({ raw: raw.slice(0, 2000), problem: decoded.error.message });
    if (typeof frame.payload !== 'object' || frame.payload === null) frame.payload = {};
    this.log.push(frame);
    if (this.#autoPong && frame.type === 'ping') this.send(clientFrame('pong', {}));
    for (const w of this.#waiters) {
      if (w.predicate(frame)) {
        this.#waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(frame);
        return;
      }
    }
    this.#buffer.push(frame);
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Close info once closed, else undefined. */
  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  /** Sends a frame object as JSON text. */
  send(frame: object): void {
    this.sendRaw(JSON.stringify(frame));
  }

  /** Sends text exactly as given (for malformed and oversized frames). */
  sendRaw(text: string): void {
    this.ws.send(text);
  }

  /**
   * The first received frame (buffered or future) matching `predicate`.
   * Rejects on timeout or when the socket closes first.
   */
  next(predicate: Predicate = () => true, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Frame> {
    const index = this.#buffer.findIndex(predicate);
    if (index >= 0) return Promise.resolve(this.#buffer.splice(index, 1)[0]!);
    if (this.#closeInfo) {
      return Promise.reject(new Error(`socket already closed (${this.#closeInfo.code} ${this.#closeInfo.reason}); no matching frame buffered`));
    }
    return new Promise<Frame>((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          const seen = this.log.slice(-8).map((f) => JSON.stringify(f)).join('\n  ');
          reject(new Error(`no matching frame within ${timeoutMs} ms; last frames received:\n  ${seen || '(none)'}`));
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Takes every buffered frame matching `predicate` (default: all) without waiting. */
  take(predicate: Predicate = () => true): Frame[] {
    const taken: Frame[] = [];
    for (let i = 0; i < this.#buffer.length; ) {
      if (predicate(this.#buffer[i]!)) taken.push(...this.#buffer.splice(i, 1));
      else i++;
    }
    return taken;
  }

  /** Resolves after `ms` with every frame matching `predicate` that arrived (or was buffered) meanwhile. */
  async collect(predicate: Predicate, ms: number): Promise<Frame[]> {
    await sleep(ms);
    return this.take(predicate);
  }

  /** Sends `ping` and waits for a `pong`: proves the connection is open and being served. */
  async roundTrip(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    this.send(clientFrame('ping', {}));
    await this.next(is.type('pong'), timeoutMs);
  }

  /** Sends `auth` and resolves with the server's `auth` answer; rejects if the socket closes instead. */
  async auth(token: string, deviceId?: string): Promise<Frame> {
    this.send(clientFrame('auth', deviceId === undefined ? { token } : { token, device_id: deviceId }));
    return this.next((f) => f.type === 'auth' || f.type === 'error');
  }

  /** Sends `join_room`; resolves with its ack (or error) and, after an ack, the history frame. */
  async join(conversationId: string, lastSeq?: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<JoinResult> {
    const id = newMessageId();
    this.send(clientFrame('join_room', lastSeq === undefined ? { conversation_id: conversationId } : { conversation_id: conversationId, last_seq: lastSeq }, id));
    const ack = await this.next(is.answerTo(id), timeoutMs);
    if (ack.type !== 'message_ack') return { id, ack };
    const history = await this.next(is.history(conversationId), timeoutMs);
    return { id, ack, history };
  }

  /** Sends `leave_room`; resolves with its ack (or error). */
  async leave(conversationId: string): Promise<Frame> {
    const id = newMessageId();
    this.send(clientFrame('leave_room', { conversation_id: conversationId }, id));
    return this.next(is.answerTo(id));
  }

  /** Sends `send_message` without waiting; returns the message_id used. */
  postMessage(conversationId: string, content: string, messageId: string = newMessageId()): string {
    this.send(clientFrame('send_message', { conversation_id: conversationId, content, content_type: 'text' }, messageId));
    return messageId;
  }

  /** Sends `send_message` and resolves with its answer: a `message_ack` or an `error`. */
  async sendMessage(conversationId: string, content: string, messageId: string = newMessageId(), timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Frame> {
    this.postMessage(conversationId, content, messageId);
    return this.next(is.answerTo(messageId), timeoutMs);
  }

  /** Sends a `history` request and resolves with the `history` frame (or `error`) carrying its message_id. */
  async history(payload: { conversation_id: string; before_seq?: number; after_seq?: number; limit?: number }): Promise<Frame> {
    const id = newMessageId();
    this.send(clientFrame('history', payload, id));
    return this.next(is.historyAnswer(id));
  }

  /** Sends a read receipt for `messageId`. */
  markRead(messageId: string, envelopeId?: string): void {
    this.send(clientFrame('message_ack', { message_id: messageId, status: 'read' }, envelopeId));
  }

  typing(conversationId: string, isTyping: boolean): void {
    this.send(clientFrame('typing', { conversation_id: conversationId, is_typing: isTyping }));
  }

  /** The close code and reason, or a rejection if the socket is still open after `timeoutMs`. */
  async waitClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<CloseInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms; frames received: ${JSON.stringify(this.log.slice(-5))}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Normal close (1000) and wait for it to finish. */
  async close(code = 1000, reason = ''): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    return this.closed;
  }

  /** Drops the TCP connection without a close handshake (a crashed or vanished client). */
  async terminate(): Promise<CloseInfo> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
    return this.closed;
  }
}

/** Opens a WebSocket to `wsUrl`; rejects when the upgrade fails (with `statusCode` for an HTTP refusal). */
export function connect(wsUrl: string, opts: ConnectOptions = {}): Promise<TestClient> {
  return new Promise<TestClient>((resolve, reject) => {
    const ws = new WebSocket(wsUrl, {
      ...(opts.origin === undefined ? {} : { origin: opts.origin }),
      handshakeTimeout: opts.timeoutMs ?? 5_000,
    });
    const client = new TestClient(ws, { autoPong: opts.autoPong ?? false });
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      const err = Object.assign(new Error(`upgrade refused with HTTP ${res.statusCode}`), { statusCode: res.statusCode });
      res.resume();
      ws.terminate();
      reject(err);
    });
    ws.once('error', (err) => reject(err));
  });
}

/** The HTTP status of an upgrade attempt: 101 when it succeeded (the socket is closed again at once). */
export async function upgradeStatus(wsUrl: string, origin?: string): Promise<number> {
  try {
    const client = await connect(wsUrl, origin === undefined ? {} : { origin });
    await client.close();
    return 101;
  } catch (err) {
    const status = (err as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number') return status;
    throw err;
  }
}

export interface AuthedOptions extends TokenOptions {
  device_id?: string;
  origin?: string;
  autoPong?: boolean;
}

/** Connects, authenticates with a freshly minted token and checks the answer is a successful `auth`. */
export async function connectAs(wsUrl: string, opts: AuthedOptions): Promise<TestClient> {
  const { device_id: deviceId, origin, autoPong, ...tokenOpts } = opts;
  const token = await makeToken(tokenOpts);
  const client = await connect(wsUrl, { ...(origin === undefined ? {} : { origin }), ...(autoPong === undefined ? {} : { autoPong }) });
  const answer = await client.auth(token, deviceId);
  if (answer.type !== 'auth' || answer.payload.success !== true) {
    await client.terminate();
    throw new Error(`auth as ${String(opts.sub)} failed: ${JSON.stringify(answer)}`);
  }
  return client;
}

let counter = 0;

/** A fresh id in the protocol's id charset, unique within this test process. */
/**
 * An end user and an agent on separate sockets (on two instances when two URLs are given),
 * both joined to the user's conversation; throws if either join is refused.
 */
export async function joinedPair(wsUrl: string, agentWsUrl = wsUrl): Promise<{ conv: string; user: TestClient; agent: TestClient; agentId: string }> {
  const conv = uniqueId('cust');
  const agentId = uniqueId('agent');
  const user = await connectAs(wsUrl, { sub: conv });
  const agent = await connectAs(agentWsUrl, { sub: agentId, role: 'agent' });
  for (const client of [user, agent]) {
    const { ack } = await client.join(conv);
    if (ack.type !== 'message_ack') throw new Error(`join refused: ${JSON.stringify(ack)}`);
  }
  return { conv, user, agent, agentId };
}

export function uniqueId(prefix = 'u'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
