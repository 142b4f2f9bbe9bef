import type * as z from 'zod/mini';
import type * as s from './schemas.js';

export type ClientFrameType = keyof typeof s.clientFrames;
export type ServerFrameType = keyof typeof s.serverFrames;
export type ClientFrameOf<T extends ClientFrameType> = z.infer<(typeof s.clientFrames)[T]>;
export type ServerFrameOf<T extends ServerFrameType> = z.infer<(typeof s.serverFrames)[T]>;
export type ClientFrame = { [T in ClientFrameType]: ClientFrameOf<T> }[ClientFrameType];
export type ServerFrame = { [T in ServerFrameType]: ServerFrameOf<T> }[ServerFrameType];

export type Role = z.infer<typeof s.role>;
export type AuthRequest = z.infer<typeof s.authRequest>;
export type JoinRoomRequest = z.infer<typeof s.joinRoomRequest>;
export type SendMessageRequest = z.infer<typeof s.sendMessageRequest>;
export type TypingRequest = z.infer<typeof s.typingRequest>;
export type HistoryRequest = z.infer<typeof s.historyRequest>;
export type AuthResult = z.infer<typeof s.authResult>;
/** A stored chat message, as `new_message` and `history` carry it. */
export type ChatMessage = z.infer<typeof s.chatMessage>;
export type MessageAck = z.infer<typeof s.messageAck>;
export type ReceivedAck = z.infer<typeof s.receivedAck>;
export type ReadAck = z.infer<typeof s.readAck>;
export type HistoryPage = z.infer<typeof s.historyPage>;
export type TypingEvent = z.infer<typeof s.typingEvent>;
export type ErrorPayload = z.infer<typeof s.errorPayload>;
