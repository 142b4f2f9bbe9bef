import { RETRYABLE, reasonOf, type ErrorCodeValue } from './codes.js';
import { MAX_FRAME_BYTES } from './limits.js';
import type { ClientFrameOf, ClientFrameType, ErrorPayload, ServerFrameOf, ServerFrameType } from './types.js';

/** Frames the receiver answers with a `message_id`-tied ack or error: the builder fills one in. */
const ANSWERED: ReadonlySet<string> = new Set(['join_room', 'leave_room', 'send_message', 'history']);

export const nowIso = (): string => new Date().toISOString();

/**
 * A random (version 4) UUID. Built on getRandomValues because crypto.randomUUID exists only in
 * secure contexts, and customer sites are not all served over https.
 */
export function newMessageId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

type Payload<F> = F extends { payload: infer P } ? P : never;

/** A client frame with `timestamp` set, and `message_id` set where the frame expects an answer. */
export function clientFrame<T extends ClientFrameType>(type: T, payload: Payload<ClientFrameOf<T>>, messageId?: string): ClientFrameOf<T> {
  const id = messageId ?? (ANSWERED.has(type) ? newMessageId() : undefined);
  return envelope(type, payload, id) as ClientFrameOf<T>;
}

/** A server frame with `timestamp` set; `messageId` ties it to the client frame it answers. */
export function serverFrame<T extends ServerFrameType>(type: T, payload: Payload<ServerFrameOf<T>>, messageId?: string): ServerFrameOf<T> {
  return envelope(type, payload, messageId) as ServerFrameOf<T>;
}

function envelope(type: string, payload: unknown, messageId: string | undefined) {
  return messageId === undefined ? { type, payload, timestamp: nowIso() } : { type, payload, message_id: messageId, timestamp: nowIso() };
}

/** An `error` payload whose reason and retryable flag follow from its code. */
export function errorPayload(
  code: ErrorCodeValue,
  message: string,
  extra: { message_id?: string; retry_after_ms?: number } = {},
): ErrorPayload {
  const reason = reasonOf(code);
  return { code, reason, message, retryable: RETRYABLE[reason], ...extra };
}

export const encodeFrame = (frame: object): string => JSON.stringify(frame);

const encoder = /* @__PURE__ */ new TextEncoder();

export const utf8Length = (text: string): number => encoder.encode(text).length;

/**
 * Whether a `send_message` carrying `content` fits in one frame. The 4000-character limit does
 * not count the white space around the text, which can still fill a frame: a server closes the
 * socket over a frame too large (1009), and a client sending it again would close every next one.
 */
export const sendFits = (conversationId: string, content: string): boolean =>
  utf8Length(encodeFrame(clientFrame('send_message', { conversation_id: conversationId, content, content_type: 'text' }, newMessageId()))) <= MAX_FRAME_BYTES;

