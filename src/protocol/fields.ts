import * as z from 'zod/mini';
import { contentProblem } from './content.js';
import { ID_PATTERN } from './limits.js';

// The field schemas both directions share. They use as few of zod/mini's schema kinds as they can
// (string, number, boolean, literal, object, array, optional; regex and refine checks): each kind
// is code in the widget bundle, and a regex or a refine says the same as z.uuid(), z.int() or
// z.iso.datetime() for a fraction of the bytes.

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** What z.iso.datetime() accepts: a real calendar date, UTC ("Z"), seconds required, any fraction. */
const UTC_TIMESTAMP_PATTERN =
  /^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8])))T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?Z$/;

const matching = (pattern: RegExp, message: string) => z.string().check(z.regex(pattern, message));

/** A JSON number that is a safe integer of at least `min` (what z.int().check(z.gte(min)) means). */
export const wholeNumber = (min: number, message = `must be a whole number >= ${min}`) =>
  z.number().check(z.refine((n) => Number.isSafeInteger(n) && n >= min, message));

export const uuid = matching(UUID_PATTERN, 'must be a UUID (8-4-4-4-12 hex digits)');
export const id = matching(ID_PATTERN, 'must be 1–128 characters of A–Z a–z 0–9 _ . : @ -');
export const timestamp = matching(UTC_TIMESTAMP_PATTERN, 'must be an ISO 8601 UTC timestamp ending in Z');
export const seq = wholeNumber(0);
export const positiveSeq = wholeNumber(1);
export const role = z.literal(['user', 'agent']);
export const contentType = z.literal('text');
export const content = z.string().check(
  z.superRefine((value, ctx) => {
    const problem = contentProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
  }),
);
export const empty = z.strictObject({});

type Payload = z.ZodMiniType<object>;

/** The envelope around every payload; `message_id` is optional unless the frame must be answered. */
export const frame = <T extends string, P extends Payload>(type: T, payload: P) =>
  z.strictObject({ type: z.literal(type), payload, message_id: z.optional(uuid), timestamp });
export const answeredFrame = <T extends string, P extends Payload>(type: T, payload: P) =>
  z.strictObject({ type: z.literal(type), payload, message_id: uuid, timestamp });
