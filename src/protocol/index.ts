/** The wire contract (PROTOCOL.md, version 1), shared by the browser client and the Node server. */
export * from './limits.js';
export * from './codes.js';
export * from './content.js';
export * from './types.js';
export { clientFrames } from './client-frames.js';
export { serverFrames } from './server-frames.js';
export { decodeClientFrame, decodeServerFrame, describeIssues, type DecodeResult } from './decode.js';
export { clientFrame, serverFrame, errorPayload, encodeFrame, newMessageId, nowIso, sendFits, utf8Length } from './build.js';
