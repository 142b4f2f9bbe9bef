// For scripts/size-report.mjs only: the protocol module with decodeServerFrame replaced by a
// bare JSON.parse, to measure the bundle without zod. Never part of a real build.
import type { DecodeResult, ServerFrame } from '../../src/protocol/index.js';

export * from '../../src/protocol/index.js';
export const decodeServerFrame = (raw: string): DecodeResult<ServerFrame> => ({ ok: true, frame: JSON.parse(raw) as ServerFrame });
