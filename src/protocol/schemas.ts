import * as z from 'zod/mini';
import { ERROR_REASONS, ErrorCode } from './codes.js';
import { contentProblem } from './content.js';
import { HISTORY_MAX_LIMIT, ID_PATTERN } from './limits.js';

// zod/mini, not zod: the same schemas cost a fraction of the bytes in the widget bundle
// (see scripts/compare-zod.mjs and the README for the measured numbers).

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const uuid = z.string().check(z.regex(UUID_PATTERN, 'must be a UUID (8-4-4-4-12 hex digits)'));
export const id = z.string().check(z.regex(ID_PATTERN, 'must be 1–128 characters of A–Z a–z 0–9 _ . : @ -'));
export const timestamp = z.iso.datetime('must be an ISO 8601 UTC timestamp ending in Z');
export const seq = z.int().check(z.gte(0, 'must be a whole number >= 0'));
export const positiveSeq = z.int().check(z.gte(1, 'must be a whole number >= 1'));
export const role = z.enum(['user', 'agent']);
export const contentType = z.literal('text');
export const content = z.string().check(
  z.superRefine((value, ctx) => {
    const problem = contentProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
  }),
);
const empty = z.strictObject({});

// ---- payloads, client to server ----

export const authRequest = z.strictObject({ token: z.string().check(z.minLength(1, 'must not be empty')), device_id: z.optional(id) });
export const joinRoomRequest = z.strictObject({ conversation_id: id, last_seq: z.optional(seq) });
export const leaveRoomRequest = z.strictObject({ conversation_id: id });
export const sendMessageRequest = z.strictObject({ conversation_id: id, content, content_type: contentType });
export const typingRequest = z.strictObject({ conversation_id: id, is_typing: z.boolean() });
export const readAckRequest = z.strictObject({ message_id: uuid, status: z.literal('read') });
export const historyRequest = z
  .strictObject({
    conversation_id: id,
    before_seq: z.optional(seq),
    after_seq: z.optional(seq),
    limit: z.optional(z.int().check(z.gte(1, 'must be 1–100'), z.lte(HISTORY_MAX_LIMIT, 'must be 1–100'))),
  })
  .check(z.refine((p) => p.before_seq === undefined || p.after_seq === undefined, 'give at most one of before_seq and after_seq'));

// ---- payloads, server to client ----

export const authResult = z.strictObject({ success: z.literal(true), user_id: id, role, expires_at: timestamp });
export const chatMessage = z.strictObject({
  message_id: uuid,
  conversation_id: id,
  seq: positiveSeq,
  sender_id: id,
  sender_role: role,
  content,
  content_type: contentType,
  created_at: timestamp,
});
/** `received` acks a join or leave (no seq) or a stored message (seq and created_at, both or neither). */
export const receivedAck = z
  .strictObject({ message_id: uuid, status: z.literal('received'), seq: z.optional(positiveSeq), created_at: z.optional(timestamp) })
  .check(z.refine((p) => (p.seq === undefined) === (p.created_at === undefined), 'seq and created_at come together'));
export const readAck = z.strictObject({ message_id: uuid, status: z.literal('read'), user_id: id, conversation_id: id, seq: positiveSeq });
export const messageAck = z.discriminatedUnion('status', [receivedAck, readAck]);
export const historyPage = z.strictObject({
  conversation_id: id,
  messages: z.array(chatMessage),
  has_more: z.boolean(),
  last_seq: seq,
  read_seq: seq,
  peer_read_seq: seq,
});
export const typingEvent = z.strictObject({ conversation_id: id, user_id: id, is_typing: z.boolean() });
export const errorPayload = z
  .strictObject({
    code: z.union(ERROR_REASONS.map((reason) => z.literal(ErrorCode[reason]))),
    reason: z.enum(ERROR_REASONS),
    message: z.string(),
    retryable: z.boolean(),
    message_id: z.optional(uuid),
    retry_after_ms: z.optional(z.int().check(z.gte(0, 'must be a whole number >= 0'))),
  })
  .check(z.refine((p) => ErrorCode[p.reason] === p.code, 'reason does not match code'));

// ---- frames ----

type Payload = z.ZodMiniType<object>;

/** The envelope around every payload; `message_id` may be required for a frame that must be answered. */
const frame = <T extends string, P extends Payload>(type: T, payload: P) =>
  z.strictObject({ type: z.literal(type), payload, message_id: z.optional(uuid), timestamp });
const answeredFrame = <T extends string, P extends Payload>(type: T, payload: P) =>
  z.strictObject({ type: z.literal(type), payload, message_id: uuid, timestamp });

export const clientFrames = {
  auth: frame('auth', authRequest),
  join_room: answeredFrame('join_room', joinRoomRequest),
  leave_room: answeredFrame('leave_room', leaveRoomRequest),
  send_message: answeredFrame('send_message', sendMessageRequest),
  typing: frame('typing', typingRequest),
  message_ack: frame('message_ack', readAckRequest),
  history: answeredFrame('history', historyRequest),
  ping: frame('ping', empty),
  pong: frame('pong', empty),
};

export const serverFrames = {
  auth: frame('auth', authResult),
  message_ack: frame('message_ack', messageAck),
  new_message: frame('new_message', chatMessage),
  history: frame('history', historyPage),
  typing: frame('typing', typingEvent),
  error: frame('error', errorPayload),
  ping: frame('ping', empty),
  pong: frame('pong', empty),
};
