import {
  ErrorCode,
  HISTORY_DEFAULT_LIMIT,
  JOIN_NEWEST_LIMIT,
  JOIN_REPLAY_LIMIT,
  errorPayload,
  serverFrame,
  type ClientFrame,
  type ClientFrameOf,
  type ErrorCodeValue,
  type HistoryPage,
} from '../../protocol/index.js';
import { mayJoin } from '../auth/authorize.js';
import type { Identity } from '../auth/token-verifier.js';
import type { AppendResult, HistoryResult, ReadPositions } from '../store/store.js';
import type { Connection } from './connection.js';
import type { Hub, SendAttempt } from './hub.js';

/** Frames after `auth`, one handler per type. */
export async function handleFrame(hub: Hub, connection: Connection, frame: ClientFrame): Promise<void> {
  switch (frame.type) {
    case 'join_room':
      return join(hub, connection, frame);
    case 'leave_room':
      return leave(hub, connection, frame);
    case 'send_message':
      return sendMessage(hub, connection, frame);
    case 'typing':
      return typing(hub, connection, frame);
    case 'message_ack':
      return markRead(hub, connection, frame);
    case 'history':
      return history(hub, connection, frame);
    case 'ping':
      return connection.send(serverFrame('pong', {}));
    case 'pong':
      return;
    case 'auth':
      return fail(connection, ErrorCode.BAD_REQUEST, 'already authenticated', frame.message_id);
  }
}

function fail(connection: Connection, code: ErrorCodeValue, message: string, messageId?: string, retryAfterMs?: number): void {
  const extra = { ...(messageId ? { message_id: messageId } : {}), ...(retryAfterMs !== undefined ? { retry_after_ms: retryAfterMs } : {}) };
  connection.send(serverFrame('error', errorPayload(code, message, extra)));
}

const notJoined = (connection: Connection, conversationId: string, messageId?: string) =>
  fail(connection, ErrorCode.NOT_IN_ROOM, `join conversation ${conversationId} first`, messageId);

const storeFailed = (hub: Hub, connection: Connection, error: unknown, messageId?: string) => {
  hub.log.error({ err: error }, 'storage failure');
  fail(connection, ErrorCode.SERVER_ERROR, 'storage is unavailable; nothing was stored, try again', messageId);
};

async function join(hub: Hub, connection: Connection, frame: ClientFrameOf<'join_room'>): Promise<void> {
  const { conversation_id, last_seq } = frame.payload;
  const identity = connection.identity!;
  if (!mayJoin(identity, conversation_id)) {
    return fail(connection, ErrorCode.FORBIDDEN, `no access to conversation ${conversation_id}`, frame.message_id);
  }
  // Joined (and so receiving) before the history is read, so nothing stored meanwhile falls between the two.
  const joinedBefore = connection.beginJoin(conversation_id);
  try {
    await hub.registry.join(connection, conversation_id);
  } catch (error) {
    hub.log.warn({ err: error, conversation_id }, 'bus subscription failed; delivery catches up when the bus returns');
  }
  let page: HistoryResult;
  let positions;
  try {
    page = await joinHistory(hub, conversation_id, last_seq);
    positions = await hub.store.readPositions(conversation_id, identity.userId);
  } catch (error) {
    if (joinedBefore !== undefined) {
      // A join again that failed leaves the connection in the conversation, as it was: what arrived meanwhile follows.
      connection.finishJoin(conversation_id, joinedBefore);
    } else {
      connection.forget(conversation_id);
      await hub.registry.leave(connection, conversation_id).catch(() => undefined);
    }
    return storeFailed(hub, connection, error, frame.message_id);
  }
  connection.send(serverFrame('message_ack', { message_id: frame.message_id, status: 'received' }));
  connection.send(serverFrame('history', historyPayload(conversation_id, page, positions), frame.message_id));
  connection.finishJoin(conversation_id, page.last_seq);
}

/** After `last_seq`, the oldest 500; without one, or past the store's end (the store was reset), the newest 50. */
async function joinHistory(hub: Hub, conversationId: string, lastSeq: number | undefined): Promise<HistoryResult> {
  if (lastSeq !== undefined) {
    const page = await hub.store.history(conversationId, { after_seq: lastSeq, limit: JOIN_REPLAY_LIMIT });
    if (lastSeq <= page.last_seq) return page;
  }
  return hub.store.history(conversationId, { limit: JOIN_NEWEST_LIMIT });
}

const historyPayload = (conversation_id: string, { messages, has_more, last_seq }: HistoryResult, { read_seq, peer_read_seq }: ReadPositions): HistoryPage => ({
  conversation_id,
  messages,
  has_more,
  last_seq,
  read_seq,
  peer_read_seq,
});

async function leave(hub: Hub, connection: Connection, frame: ClientFrameOf<'leave_room'>): Promise<void> {
  const { conversation_id } = frame.payload;
  connection.forget(conversation_id);
  await hub.registry.leave(connection, conversation_id).catch((error: unknown) => hub.log.warn({ err: error }, 'bus unsubscribe failed'));
  connection.send(serverFrame('message_ack', { message_id: frame.message_id, status: 'received' }));
}

async function sendMessage(hub: Hub, connection: Connection, frame: ClientFrameOf<'send_message'>): Promise<void> {
  const { conversation_id } = frame.payload;
  const { message_id } = frame;
  if (!connection.isIn(conversation_id)) return notJoined(connection, conversation_id, message_id);
  connection.beginSend(conversation_id, message_id);
  let outcome: { result: AppendResult; first: boolean } | undefined;
  try {
    outcome = await storeOnce(hub, connection, frame);
  } catch (error) {
    connection.finishSend(conversation_id, message_id);
    return storeFailed(hub, connection, error, message_id);
  }
  if (!outcome) return connection.finishSend(conversation_id, message_id); // refused (rate limit), already answered
  const { result, first } = outcome;
  if (result.kind === 'conflict' || result.message.conversation_id !== conversation_id) {
    connection.finishSend(conversation_id, message_id);
    return fail(connection, ErrorCode.BAD_REQUEST, 'message_id is already used by a message in another conversation', message_id);
  }
  // Only its sender's retry is acked: anyone else would be told their words were stored when they were not.
  if (result.message.sender_id !== connection.identity!.userId) {
    connection.finishSend(conversation_id, message_id);
    return fail(connection, ErrorCode.BAD_REQUEST, 'message_id is already used by another sender\'s message', message_id);
  }
  const { message } = result;
  connection.finishSend(conversation_id, message_id, message);
  if (!first) return;
  if (result.kind === 'stored') hub.metrics.messagesStored.inc();
  // A retry is delivered again too: a connection that already has this seq drops it, so nobody
  // sees it twice, and one that missed it (the first attempt's commit landed but its answer was
  // lost with the database link) gets it now rather than at its next gap.
  broadcast(hub, conversation_id, { kind: 'message', message });
}

/**
 * Stores a send once: a retry arriving while the first attempt is under way on this instance
 * waits for it and shares its outcome (`first` false). Resolves undefined when the send was
 * refused and answered (4008).
 */
async function storeOnce(hub: Hub, connection: Connection, frame: ClientFrameOf<'send_message'>): Promise<{ result: AppendResult; first: boolean } | undefined> {
  const { message_id } = frame;
  // Only the same sender's retry shares an attempt: another user's send of that id has its own outcome (its own 4008, or 4000).
  const key = `${connection.identity!.userId}\u0000${message_id}`;
  const running = hub.inflight.get(key);
  const attempt = running ?? hub.track(attemptSend(hub, connection.identity!, frame));
  if (!running) {
    hub.inflight.set(key, attempt);
    const forget = () => hub.inflight.delete(key);
    attempt.then(forget, forget);
  }
  const outcome = await attempt;
  if ('retryAfterMs' in outcome) {
    fail(connection, ErrorCode.RATE_LIMITED, 'too many messages; wait before sending again', message_id, outcome.retryAfterMs);
    return undefined;
  }
  return { result: outcome.result, first: !running };
}

/**
 * The store is asked about the message_id before the rate limit is, so a retry of a stored
 * message (or its id reused in another conversation) never holds a slot: only new messages take one.
 */
async function attemptSend(hub: Hub, identity: Identity, frame: ClientFrameOf<'send_message'>): Promise<SendAttempt> {
  const { conversation_id, content, content_type } = frame.payload;
  const { message_id } = frame;
  const stored = await hub.store.find(message_id);
  if (stored) return { result: { kind: 'duplicate', message: stored } };
  // A retry racing its first attempt on another instance still takes a slot here; the store
  // reports it as a duplicate and the slot is given back below.
  const decision = await hub.rateLimiter.take(identity.userId);
  if (!decision.ok) return { retryAfterMs: decision.retryAfterMs };
  const started = performance.now();
  let result: AppendResult;
  try {
    result = await hub.store.append({ message_id, conversation_id, sender_id: identity.userId, sender_role: identity.role, content, content_type });
  } catch (error) {
    await hub.rateLimiter.refund(identity.userId);
    throw error;
  }
  hub.metrics.storeSeconds.observe((performance.now() - started) / 1000);
  if (result.kind !== 'stored') await hub.rateLimiter.refund(identity.userId);
  return { result };
}

async function typing(hub: Hub, connection: Connection, frame: ClientFrameOf<'typing'>): Promise<void> {
  const { conversation_id, is_typing } = frame.payload;
  const userId = connection.identity!.userId;
  if (!connection.isIn(conversation_id)) return notJoined(connection, conversation_id, frame.message_id);
  if (is_typing && !(await hub.typingThrottle.allowTrue(userId, conversation_id))) return;
  broadcast(hub, conversation_id, { kind: 'typing', origin: connection.id, payload: { conversation_id, user_id: userId, is_typing } });
}

async function markRead(hub: Hub, connection: Connection, frame: ClientFrameOf<'message_ack'>): Promise<void> {
  const userId = connection.identity!.userId;
  const readId = frame.payload.message_id;
  // A receipt need not carry an envelope id; the id of the message it reads is then the one that ties an answer to it.
  const answerId = frame.message_id ?? readId;
  try {
    const message = await hub.store.find(readId);
    if (!message) return fail(connection, ErrorCode.BAD_REQUEST, `no message ${readId}`, answerId);
    const { conversation_id, seq } = message;
    if (!connection.isIn(conversation_id)) return notJoined(connection, conversation_id, answerId);
    if (!(await hub.store.markRead(conversation_id, userId, seq))) return; // not ahead of the stored position
    broadcast(hub, conversation_id, { kind: 'read', origin: connection.id, payload: { message_id: readId, status: 'read', user_id: userId, conversation_id, seq } });
  } catch (error) {
    storeFailed(hub, connection, error, answerId);
  }
}

async function history(hub: Hub, connection: Connection, frame: ClientFrameOf<'history'>): Promise<void> {
  const { conversation_id, before_seq, after_seq, limit = HISTORY_DEFAULT_LIMIT } = frame.payload;
  if (!connection.isIn(conversation_id)) return notJoined(connection, conversation_id, frame.message_id);
  try {
    const page = await hub.store.history(conversation_id, { before_seq, after_seq, limit });
    const positions = await hub.store.readPositions(conversation_id, connection.identity!.userId);
    connection.send(serverFrame('history', historyPayload(conversation_id, page, positions), frame.message_id));
  } catch (error) {
    storeFailed(hub, connection, error, frame.message_id);
  }
}

/** Delivers on this instance at once, then tells the other instances through the bus. */
function broadcast(hub: Hub, conversationId: string, event: Parameters<Hub['bus']['publish']>[1]): void {
  deliverLocally(hub, conversationId, event);
  hub.bus.publish(conversationId, event).catch((error: unknown) => hub.log.warn({ err: error, conversationId }, 'bus publish failed; other instances catch up from the store'));
}

export function deliverLocally(hub: Hub, conversationId: string, event: Parameters<Hub['bus']['publish']>[1]): void {
  for (const member of hub.registry.members(conversationId)) {
    if (event.kind === 'message') member.deliver(event.message);
    else if (member.id !== event.origin && member.isIn(conversationId)) {
      member.send(event.kind === 'typing' ? serverFrame('typing', event.payload) : serverFrame('message_ack', event.payload));
    }
  }
}
