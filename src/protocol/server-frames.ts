import * as z from 'zod/mini';
import { ERROR_REASONS, ErrorCode } from './codes.js';
import { content, contentType, empty, frame, id, positiveSeq, role, seq, timestamp, uuid, wholeNumber } from './fields.js';

// Server-to-client payloads: what the widget validates before it believes a frame.

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
    code: z.literal(ERROR_REASONS.map((reason) => ErrorCode[reason])),
    reason: z.literal(ERROR_REASONS),
    message: z.string(),
    retryable: z.boolean(),
    message_id: z.optional(uuid),
    retry_after_ms: z.optional(wholeNumber(0)),
  })
  .check(z.refine((p) => ErrorCode[p.reason] === p.code, 'reason does not match code'));

/**
 * A frame type whose payload has several shapes, told apart by one payload field. Decoding picks
 * the shape by that field first, so an error names what is wrong in the shape the sender meant
 * (and the widget needs no zod union for it).
 */
export interface Variants<V extends Record<string, z.ZodMiniType> = Record<string, z.ZodMiniType>> {
  key: string;
  shapes: V;
}

const variants = <V extends Record<string, z.ZodMiniType>>(key: string, shapes: V): Variants<V> => ({ key, shapes });

export const serverFrames = {
  auth: frame('auth', authResult),
  message_ack: variants('status', { received: frame('message_ack', receivedAck), read: frame('message_ack', readAck) }),
  new_message: frame('new_message', chatMessage),
  history: frame('history', historyPage),
  typing: frame('typing', typingEvent),
  error: frame('error', errorPayload),
  ping: frame('ping', empty),
  pong: frame('pong', empty),
};
