import type * as z from 'zod/mini';
import { errorPayload, utf8Length } from './build.js';
import { ErrorCode } from './codes.js';
import { MAX_FRAME_BYTES, MAX_SERVER_FRAME_BYTES } from './limits.js';
import { clientFrames } from './client-frames.js';
import { uuid } from './fields.js';
import { serverFrames, type Variants } from './server-frames.js';
import type { ClientFrame, ErrorPayload, ServerFrame } from './types.js';

export type DecodeResult<F> =
  | { ok: true; frame: F }
  /** `error` is a ready `error` payload (4000); `tooLarge` frames are answered by closing 1009 instead. */
  | { ok: false; error: ErrorPayload; tooLarge?: true };

type FrameSchemas = Record<string, z.ZodMiniType | Variants>;

/** Parses one client-to-server frame (at most 64 KiB). Never throws. */
export const decodeClientFrame = (raw: unknown): DecodeResult<ClientFrame> => decode(raw, clientFrames, MAX_FRAME_BYTES);

/** Parses one server-to-client frame. Never throws. */
export const decodeServerFrame = (raw: unknown): DecodeResult<ServerFrame> => decode(raw, serverFrames, MAX_SERVER_FRAME_BYTES);

function decode<F>(raw: unknown, schemas: FrameSchemas, maxBytes: number): DecodeResult<F> {
  if (typeof raw !== 'string') return bad('frame must be a text frame holding a JSON object');
  // UTF-8 needs at most 3 bytes per UTF-16 unit, so most frames are judged without encoding them.
  const bytes = raw.length * 3 > maxBytes ? utf8Length(raw) : raw.length;
  if (bytes > maxBytes) return { ...bad(`frame is ${bytes} bytes, over the ${maxBytes}-byte limit`), tooLarge: true };
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return bad('frame is not valid JSON');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return bad('frame must be a JSON object');
  const envelope = data as Record<string, unknown>;
  const messageId = uuid.safeParse(envelope.message_id).success ? (envelope.message_id as string) : undefined;
  const type = envelope.type;
  if (typeof type !== 'string') return bad('type: must be a string naming the frame type', messageId);
  if (!Object.hasOwn(schemas, type)) return bad(`type: unknown frame type ${JSON.stringify(type.slice(0, 40))}`, messageId);
  const schema = pickSchema(schemas[type]!, envelope.payload);
  if (typeof schema === 'string') return bad(schema, messageId);
  const result = schema.safeParse(data, { reportInput: true });
  if (!result.success) return bad(describeIssues(result.error.issues), messageId);
  return { ok: true, frame: result.data as F };
}

/** The entry's schema, or for a frame with several payload shapes the one its payload names (else why none fits). */
function pickSchema(entry: z.ZodMiniType | Variants, payload: unknown): z.ZodMiniType | string {
  if (!('shapes' in entry)) return entry;
  const value = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>)[entry.key] : undefined;
  if (typeof value === 'string' && Object.hasOwn(entry.shapes, value)) return entry.shapes[value]!;
  return `payload.${entry.key}: must be ${Object.keys(entry.shapes).map((v) => JSON.stringify(v)).join(' or ')}`;
}

function bad(message: string, messageId?: string): { ok: false; error: ErrorPayload } {
  return { ok: false, error: errorPayload(ErrorCode.BAD_REQUEST, message, messageId ? { message_id: messageId } : {}) };
}

type Issue = z.core.$ZodIssue;

/** zod/mini carries no English messages (the locale costs bytes), so the frame's problem is described here. */
export function describeIssues(issues: readonly Issue[]): string {
  return issues.slice(0, 3).map(describeIssue).join('; ');
}

function describeIssue(issue: Issue): string {
  const where = issue.path.length ? issue.path.join('.') : 'frame';
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? `${where}: is required` : `${where}: must be ${article(issue.expected)}`;
    case 'unrecognized_keys':
      return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
    case 'invalid_value':
      return `${where}: must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
    case 'invalid_union':
      return issue.errors.length ? `${where}: matches none of its forms (${describeIssues(issue.errors.flat().slice(0, 1))})` : `${where}: is not one of the accepted values`;
    case 'invalid_format':
      return `${where}: ${custom(issue.message) ?? `must be a valid ${issue.format}`}`;
    default:
      return `${where}: ${custom(issue.message) ?? 'is not valid'}`;
  }
}

const custom = (message: string): string | undefined => (message && message !== 'Invalid input' ? message : undefined);
const article = (expected: string): string => (/^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`);
