import * as z from 'zod/mini';
import { HISTORY_MAX_LIMIT } from './limits.js';
import { answeredFrame, content, contentType, empty, frame, id, seq, uuid, wholeNumber } from './fields.js';

// Client-to-server payloads, in a module of their own so the widget bundle (which only decodes
// server frames) does not carry them.

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
    limit: z.optional(wholeNumber(1, 'must be 1–100').check(z.lte(HISTORY_MAX_LIMIT, 'must be 1–100'))),
  })
  .check(z.refine((p) => p.before_seq === undefined || p.after_seq === undefined, 'give at most one of before_seq and after_seq'));

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
