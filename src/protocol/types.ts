import type * as z from 'zod/mini';
import type * as c from './client-frames.js';
import type * as f from './fields.js';
import type * as s from './server-frames.js';

/** What a frame table entry accepts: one schema, or one of several shapes picked by a payload field. */
type Accepted<E> = E extends s.Variants<infer V> ? z.infer<V[keyof V]> : E extends z.ZodMiniType ? z.infer<E> : never;

export type ClientFrameType = keyof typeof c.clientFrames;
export type ServerFrameType = keyof typeof s.serverFrames;
export type ClientFrameOf<T extends ClientFrameType> = Accepted<(typeof c.clientFrames)[T]>;
export type ServerFrameOf<T extends ServerFrameType> = Accepted<(typeof s.serverFrames)[T]>;
export type ClientFrame = { [T in ClientFrameType]: ClientFrameOf<T> }[ClientFrameType];
export type ServerFrame = { [T in ServerFrameType]: ServerFrameOf<T> }[ServerFrameType];

export type Role = z.infer<typeof f.role>;
export type AuthRequest = z.infer<typeof c.authRequest>;
export type JoinRoomRequest = z.infer<typeof c.joinRoomRequest>;
export type SendMessageRequest = z.infer<typeof c.sendMessageRequest>;
export type TypingRequest = z.infer<typeof c.typingRequest>;
export type HistoryRequest = z.infer<typeof c.historyRequest>;
export type AuthResult = z.infer<typeof s.authResult>;
/** A stored chat message, as `new_message` and `history` carry it. */
export type ChatMessage = z.infer<typeof s.chatMessage>;
export type ReceivedAck = z.infer<typeof s.receivedAck>;
export type ReadAck = z.infer<typeof s.readAck>;
export type MessageAck = ReceivedAck | ReadAck;
export type HistoryPage = z.infer<typeof s.historyPage>;
export type TypingEvent = z.infer<typeof s.typingEvent>;
export type ErrorPayload = z.infer<typeof s.errorPayload>;
