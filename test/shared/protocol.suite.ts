/**
 * The protocol module's tests, written once and run twice: under node:test (test/node/protocol.test.ts)
 * and in Chromium under mocha (test/browser/protocol.test.ts), so both sides are known to agree.
 */
import { expect } from 'chai';
import {
  CloseCode,
  ErrorCode,
  MAX_CONTENT_CHARS,
  MAX_FRAME_BYTES,
  MAX_SERVER_FRAME_BYTES,
  clientFrame,
  codePointLength,
  decodeClientFrame,
  decodeServerFrame,
  errorPayload,
  newMessageId,
  serverFrame,
  type DecodeResult,
} from '../../src/protocol/index.js';

type Fn = () => void | Promise<void>;
export interface Runner {
  describe: (name: string, fn: () => void) => void;
  it: (name: string, fn: Fn) => void;
}

const ID = '3f1c2b7e-1d2a-4c3b-9e8f-0a1b2c3d4e5f';
const ID2 = 'a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d';
const TS = '2026-11-27T08:00:00.000Z';

type Json = Record<string, unknown>;
type Sample = { payload: Json; message_id?: string; optional: string[] };

const message = {
  message_id: ID,
  conversation_id: 'U1234567890abcdef',
  seq: 7,
  sender_id: 'U1234567890abcdef',
  sender_role: 'user',
  content: 'Hello <b>there</b> 👋',
  content_type: 'text',
  created_at: TS,
};

/** One valid sample per frame type; `optional` names the payload fields that may be left out. */
const clientSamples: Record<string, Sample[]> = {
  auth: [{ payload: { token: 'eyJhbGciOiJIUzI1NiJ9.e30.x', device_id: 'dev-1' }, optional: ['device_id'] }],
  join_room: [{ payload: { conversation_id: 'U1', last_seq: 0 }, message_id: ID, optional: ['last_seq'] }],
  leave_room: [{ payload: { conversation_id: 'U1' }, message_id: ID, optional: [] }],
  send_message: [{ payload: { conversation_id: 'U1', content: 'hi', content_type: 'text' }, message_id: ID, optional: [] }],
  typing: [{ payload: { conversation_id: 'U1', is_typing: true }, optional: [] }],
  message_ack: [{ payload: { message_id: ID2, status: 'read' }, optional: [] }],
  history: [
    { payload: { conversation_id: 'U1', before_seq: 10, limit: 100 }, message_id: ID, optional: ['before_seq', 'limit'] },
    { payload: { conversation_id: 'U1', after_seq: 0, limit: 1 }, message_id: ID, optional: ['after_seq', 'limit'] },
  ],
  ping: [{ payload: {}, optional: [] }],
  pong: [{ payload: {}, optional: [] }],
};

const serverSamples: Record<string, Sample[]> = {
  auth: [{ payload: { success: true, user_id: 'U1', role: 'agent', expires_at: TS }, optional: [] }],
  message_ack: [
    { payload: { message_id: ID, status: 'received' }, optional: [] },
    { payload: { message_id: ID, status: 'received', seq: 1, created_at: TS }, optional: [] },
    { payload: { message_id: ID, status: 'read', user_id: 'agent-7', conversation_id: 'U1', seq: 3 }, optional: [] },
  ],
  new_message: [{ payload: message, optional: [] }],
  history: [
    {
      payload: { conversation_id: 'U1', messages: [message, { ...message, seq: 8, message_id: ID2 }], has_more: false, last_seq: 8, read_seq: 0, peer_read_seq: 7 },
      message_id: ID,
      optional: [],
    },
  ],
  typing: [{ payload: { conversation_id: 'U1', user_id: 'agent-7', is_typing: false }, optional: [] }],
  error: [
    { payload: { code: 4000, reason: 'BAD_REQUEST', message: 'bad', retryable: false, message_id: ID }, optional: ['message_id'] },
    { payload: { code: 4008, reason: 'RATE_LIMITED', message: 'slow', retryable: true, retry_after_ms: 1500 }, optional: ['retry_after_ms'] },
  ],
  ping: [{ payload: {}, optional: [] }],
  pong: [{ payload: {}, optional: [] }],
};

const frameText = (type: string, s: Sample, extra: Json = {}): string =>
  JSON.stringify({ type, payload: s.payload, ...(s.message_id ? { message_id: s.message_id } : {}), timestamp: TS, ...extra });

function expectBad(result: DecodeResult<unknown>, mentions?: string | RegExp): void {
  expect(result.ok, 'frame should be refused').to.equal(false);
  if (result.ok) return;
  expect(result.error.code).to.equal(4000);
  expect(result.error.reason).to.equal('BAD_REQUEST');
  expect(result.error.retryable).to.equal(false);
  expect(result.error.message).to.be.a('string').and.not.equal('');
  if (mentions instanceof RegExp) expect(result.error.message).to.match(mentions);
  else if (mentions) expect(result.error.message).to.contain(mentions);
}

function expectGood<F>(result: DecodeResult<F>): F {
  if (!result.ok) throw new Error(`expected a valid frame, got: ${result.error.message}`);
  return result.frame;
}

/** A value of another JSON type than `value`, to test type checks. */
const wrongType = (value: unknown): unknown => (typeof value === 'string' ? 42 : typeof value === 'number' ? '42' : typeof value === 'boolean' ? 'true' : Array.isArray(value) ? {} : 'x');

function frameTypeSuite(run: Runner, direction: string, samples: Record<string, Sample[]>, decode: (raw: unknown) => DecodeResult<unknown>) {
  const { describe, it } = run;
  for (const [type, list] of Object.entries(samples)) {
    describe(`${direction} ${type}`, () => {
      list.forEach((sample, n) => {
        it(`accepts valid sample ${n + 1}`, () => {
          const frame = expectGood(decode(frameText(type, sample))) as Json;
          expect(frame.type).to.equal(type);
          expect(frame.payload).to.deep.equal(sample.payload);
        });
        for (const key of Object.keys(sample.payload)) {
          const { [key]: _dropped, ...rest } = sample.payload;
          if (sample.optional.includes(key)) {
            it(`sample ${n + 1}: accepts it without optional ${key}`, () => {
              expectGood(decode(frameText(type, { ...sample, payload: rest })));
            });
          } else {
            it(`sample ${n + 1}: refuses it without ${key}`, () => expectBad(decode(frameText(type, { ...sample, payload: rest })), key));
          }
          it(`sample ${n + 1}: refuses ${key} of the wrong type`, () =>
            expectBad(decode(frameText(type, { ...sample, payload: { ...sample.payload, [key]: wrongType(sample.payload[key]) } })), key));
        }
        it(`sample ${n + 1}: refuses an extra payload field`, () =>
          expectBad(decode(frameText(type, { ...sample, payload: { ...sample.payload, admin: true } })), 'admin'));
      });
      const sample = list[0]!;
      it('refuses an extra envelope field', () => expectBad(decode(frameText(type, sample, { room: 'x' })), 'room'));
      it('refuses a missing timestamp', () => {
        const { timestamp: _t, ...rest } = JSON.parse(frameText(type, sample)) as Json;
        expectBad(decode(JSON.stringify(rest)), 'timestamp');
      });
      it('refuses a timestamp that is not ISO 8601 UTC', () => {
        for (const ts of ['2026-11-27 08:00:00', '2026-11-27T08:00:00+09:00', 'yesterday', 1764230400000]) {
          expectBad(decode(frameText(type, sample, { timestamp: ts })), 'timestamp');
        }
      });
      it('refuses a message_id that is not a UUID', () => {
        for (const bad of ['1', 'not-a-uuid', `${ID}0`, ID.replace(/-/g, ''), 'g'.repeat(8) + ID.slice(8), 5]) {
          expectBad(decode(frameText(type, sample, { message_id: bad })), 'message_id');
        }
      });
      it('refuses a payload that is not an object', () => {
        for (const payload of [null, [], 'x', 1]) expectBad(decode(frameText(type, { ...sample, payload: payload as unknown as Json })), 'payload');
      });
      it('refuses a missing payload', () => {
        const { payload: _p, ...rest } = JSON.parse(frameText(type, sample)) as Json;
        expectBad(decode(JSON.stringify(rest)), 'payload');
      });
    });
  }
}

export function protocolSuite(run: Runner): void {
  const { describe, it } = run;

  describe('protocol constants', () => {
    it('names the error codes of PROTOCOL.md', () => {
      expect(ErrorCode).to.deep.equal({ BAD_REQUEST: 4000, AUTH_FAILED: 4001, FORBIDDEN: 4003, NOT_IN_ROOM: 4005, RATE_LIMITED: 4008, REPLACED: 4009, SERVER_ERROR: 4100 });
      expect(CloseCode).to.include({ NORMAL: 1000, GOING_AWAY: 1001, POLICY_VIOLATION: 1008, TOO_LARGE: 1009, AUTH_FAILED: 4001, REPLACED: 4009, SERVER_ERROR: 4100 });
      expect(MAX_FRAME_BYTES).to.equal(65536);
      expect(MAX_CONTENT_CHARS).to.equal(4000);
    });
    it('builds error payloads whose reason and retryable follow the code', () => {
      expect(errorPayload(4005, 'join first', { message_id: ID })).to.deep.equal({ code: 4005, reason: 'NOT_IN_ROOM', message: 'join first', retryable: true, message_id: ID });
      expect(errorPayload(4003, 'no')).to.include({ reason: 'FORBIDDEN', retryable: false });
      expect(errorPayload(4008, 'slow', { retry_after_ms: 10 })).to.include({ reason: 'RATE_LIMITED', retryable: true, retry_after_ms: 10 });
      expect(errorPayload(4100, 'db down')).to.include({ reason: 'SERVER_ERROR', retryable: true });
    });
  });

  describe('raw frames', () => {
    for (const decode of [decodeClientFrame, decodeServerFrame]) {
      it(`${decode.name}: refuses text that is not JSON`, () => {
        for (const raw of ['', 'hello', '{"type":', "{'type':'ping'}", '{"type":"ping",}']) expectBad(decode(raw), 'JSON');
      });
      it(`${decode.name}: refuses JSON that is not an object`, () => {
        for (const raw of ['null', '[]', '[{"type":"ping"}]', '42', '"ping"', 'true']) expectBad(decode(raw), 'object');
      });
      it(`${decode.name}: refuses a non-string frame`, () => {
        for (const raw of [undefined, null, 42, new Uint8Array([123, 125])]) expectBad(decode(raw));
      });
      it(`${decode.name}: refuses an unknown or missing type`, () => {
        expectBad(decode(JSON.stringify({ type: 'sudo', payload: {}, timestamp: TS })), 'sudo');
        expectBad(decode(JSON.stringify({ type: '__proto__', payload: {}, timestamp: TS })), 'unknown');
        expectBad(decode(JSON.stringify({ type: 'toString', payload: {}, timestamp: TS })), 'unknown');
        expectBad(decode(JSON.stringify({ payload: {}, timestamp: TS })), 'type');
        expectBad(decode(JSON.stringify({ type: 7, payload: {}, timestamp: TS })), 'type');
      });
    }
    it('refuses a client frame over 64 KiB and flags it too large', () => {
      const pad = 'x'.repeat(MAX_FRAME_BYTES);
      const result = decodeClientFrame(JSON.stringify({ type: 'ping', payload: {}, timestamp: TS, pad }));
      expectBad(result, '65536');
      expect(!result.ok && result.tooLarge).to.equal(true);
    });
    it('counts the 64 KiB in UTF-8 bytes, not characters', () => {
      const frame = (pad: string) => JSON.stringify({ type: 'ping', payload: {}, timestamp: TS, pad });
      const overhead = frame('').length;
      const threeByte = 'あ'.repeat(Math.ceil((MAX_FRAME_BYTES - overhead) / 3) + 1); // under 64 Ki characters, over 64 KiB
      const result = decodeClientFrame(frame(threeByte));
      expect(!result.ok && result.tooLarge).to.equal(true);
      const justFits = decodeClientFrame(frame('x'.repeat(MAX_FRAME_BYTES - overhead)));
      expect(!justFits.ok && justFits.tooLarge).to.not.equal(true); // refused for the extra field only
    });
    it('accepts the largest join replay a server can send: 500 messages, each as large as a send frame can carry', () => {
      const [conversation, sender] = ['c'.repeat(128), 'u'.repeat(128)];
      const send = (content: string) => JSON.stringify(clientFrame('send_message', { conversation_id: conversation, content, content_type: 'text' }, ID));
      // White space around the text is not counted by the 4000 characters, and fills the frame.
      const content = `x${' '.repeat(MAX_FRAME_BYTES - send('x').length)}`;
      expect(send(content).length).to.equal(MAX_FRAME_BYTES);
      const messages = Array.from({ length: 500 }, (_, i) => ({ ...message, conversation_id: conversation, sender_id: sender, seq: i + 1, message_id: newMessageId(), content }));
      const history = JSON.stringify({ type: 'history', payload: { conversation_id: conversation, messages, has_more: true, last_seq: 900, read_seq: 0, peer_read_seq: 0 }, timestamp: TS });
      const frame = expectGood(decodeServerFrame(history));
      expect(frame.type === 'history' && frame.payload.messages.length).to.equal(500);
    });
    it('accepts server frames over 64 KiB (a join replays up to 500 messages), up to its limit', () => {
      const messages = Array.from({ length: 500 }, (_, i) => ({ ...message, seq: i + 1, message_id: newMessageId(), content: 'ข'.repeat(4000) }));
      const history = JSON.stringify({ type: 'history', payload: { conversation_id: 'U1', messages, has_more: true, last_seq: 900, read_seq: 0, peer_read_seq: 0 }, timestamp: TS });
      expect(history.length).to.be.greaterThan(2_000_000);
      const frame = expectGood(decodeServerFrame(history));
      expect(frame.type === 'history' && frame.payload.messages.length).to.equal(500);
      const huge = decodeServerFrame(JSON.stringify({ type: 'ping', payload: {}, timestamp: TS, pad: 'x'.repeat(MAX_SERVER_FRAME_BYTES) }));
      expect(!huge.ok && huge.tooLarge).to.equal(true);
    });
    it('ties the error to the frame by message_id when the frame had a valid one', () => {
      const result = decodeClientFrame(JSON.stringify({ type: 'send_message', payload: { conversation_id: 'U1', content: '', content_type: 'text' }, message_id: ID, timestamp: TS }));
      expectBad(result, 'content');
      expect(!result.ok && result.error.message_id).to.equal(ID);
      const noId = decodeClientFrame(JSON.stringify({ type: 'typing', payload: {}, message_id: 'nope', timestamp: TS }));
      expect(!noId.ok && noId.error.message_id).to.equal(undefined);
    });
  });

  frameTypeSuite(run, 'client→server', clientSamples, decodeClientFrame);
  frameTypeSuite(run, 'server→client', serverSamples, decodeServerFrame);

  describe('frames that must be answered carry a message_id', () => {
    for (const type of ['join_room', 'leave_room', 'send_message', 'history']) {
      it(`refuses ${type} without message_id`, () => {
        const sample = clientSamples[type]![0]!;
        expectBad(decodeClientFrame(frameText(type, { ...sample, message_id: undefined })), 'message_id');
      });
    }
  });

  describe('message content', () => {
    const send = (content: string) =>
      decodeClientFrame(JSON.stringify({ type: 'send_message', payload: { conversation_id: 'U1', content, content_type: 'text' }, message_id: ID, timestamp: TS }));
    it('accepts 1 and 4000 characters', () => {
      expectGood(send('a'));
      expectGood(send('a'.repeat(4000)));
    });
    it('refuses 0 characters, and white space only', () => {
      expectBad(send(''), 'content');
      expectBad(send(' \n\t\u3000 '), 'content');
    });
    it('refuses 4001 characters', () => expectBad(send('a'.repeat(4001)), '4000'));
    it('counts code points, after trimming, and keeps the text untrimmed', () => {
      const emoji = '😀'.repeat(4000); // 8000 UTF-16 units, 4000 code points
      expect(codePointLength(emoji)).to.equal(4000);
      expectGood(send(emoji));
      expectBad(send(emoji + '😀'), 'content');
      const padded = `   ${'a'.repeat(4000)}   `;
      const frame = expectGood(send(padded));
      expect(frame.type === 'send_message' && frame.payload.content).to.equal(padded);
    });
    it('refuses NUL', () => expectBad(send('a\u0000b'), 'NUL'));
    it('refuses lone surrogates, high or low', () => {
      expectBad(send('a\uD800'), 'surrogate');
      expectBad(send('\uDC00a'), 'surrogate');
      expectBad(send('\uDBFF\uDBFF\uDC00'), 'surrogate');
      expectGood(send('\uD83D\uDE00'));
    });
    it('keeps HTML in content as plain text (it is data, not markup)', () => {
      const frame = expectGood(send('<script>alert(1)</script>'));
      expect(frame.type === 'send_message' && frame.payload.content).to.equal('<script>alert(1)</script>');
    });
    it('refuses a content_type other than text', () => {
      const result = decodeClientFrame(JSON.stringify({ type: 'send_message', payload: { conversation_id: 'U1', content: 'x', content_type: 'html' }, message_id: ID, timestamp: TS }));
      expectBad(result, 'content_type');
    });
  });

  describe('ids', () => {
    const join = (conversation_id: string) => decodeClientFrame(JSON.stringify({ type: 'join_room', payload: { conversation_id }, message_id: ID, timestamp: TS }));
    it('accepts 1 to 128 characters of [A-Za-z0-9_.:@-]', () => {
      for (const id of ['a', 'U4af4980629', 'agent@example.com', 'line:U1_2.3-4', 'x'.repeat(128)]) expectGood(join(id));
    });
    it('refuses ids outside the charset or over 128 characters', () => {
      for (const id of ['', 'x'.repeat(129), 'a b', 'a/b', 'ü', 'a\nb', '<x>', 'a#b', '😀']) expectBad(join(id), 'conversation_id');
    });
    it('checks device_id, sender_id and user_id the same way', () => {
      expectBad(decodeClientFrame(JSON.stringify({ type: 'auth', payload: { token: 't', device_id: 'a b' }, timestamp: TS })), 'device_id');
      expectBad(decodeServerFrame(JSON.stringify({ type: 'new_message', payload: { ...message, sender_id: 'x'.repeat(129) }, timestamp: TS })), 'sender_id');
      expectBad(decodeServerFrame(JSON.stringify({ type: 'typing', payload: { conversation_id: 'U1', user_id: '', is_typing: true }, timestamp: TS })), 'user_id');
    });
  });

  describe('numbers', () => {
    const history = (payload: Json) => decodeClientFrame(JSON.stringify({ type: 'history', payload: { conversation_id: 'U1', ...payload }, message_id: ID, timestamp: TS }));
    it('history limit is 1–100, whole', () => {
      expectGood(history({ limit: 1 }));
      expectGood(history({ limit: 100 }));
      for (const limit of [0, 101, 1.5, -1]) expectBad(history({ limit }), 'limit');
    });
    it('history takes at most one of before_seq and after_seq', () => expectBad(history({ before_seq: 5, after_seq: 1 }), 'before_seq'));
    it('seq values are whole and not negative', () => {
      for (const last_seq of [-1, 0.5]) {
        expectBad(decodeClientFrame(JSON.stringify({ type: 'join_room', payload: { conversation_id: 'U1', last_seq }, message_id: ID, timestamp: TS })), 'last_seq');
      }
      expectBad(decodeServerFrame(JSON.stringify({ type: 'new_message', payload: { ...message, seq: 0 }, timestamp: TS })), 'seq');
    });
    it('an error code must be one of the table and match its reason', () => {
      const error = (payload: Json) => decodeServerFrame(JSON.stringify({ type: 'error', payload: { message: 'm', retryable: false, ...payload }, timestamp: TS }));
      expectBad(error({ code: 4002, reason: 'BAD_REQUEST' }), 'code');
      expectBad(error({ code: 4000, reason: 'FORBIDDEN' }), 'reason');
      expectGood(error({ code: 4100, reason: 'SERVER_ERROR' }));
    });
    it('a stored ack carries seq and created_at together', () => {
      expectBad(decodeServerFrame(JSON.stringify({ type: 'message_ack', payload: { message_id: ID, status: 'received', seq: 2 }, timestamp: TS })), 'created_at');
    });
    it('a message_ack is judged as the shape its status names', () => {
      const ack = (payload: Json) => decodeServerFrame(JSON.stringify({ type: 'message_ack', payload: { message_id: ID, ...payload }, timestamp: TS }));
      const read = { status: 'read', user_id: 'agent-7', conversation_id: 'U1' };
      const wrongSeq = ack({ ...read, seq: 0 });
      expectBad(wrongSeq, 'payload.seq');
      expect(!wrongSeq.ok && wrongSeq.error.message).not.to.contain('status');
      expectBad(ack({ ...read, status: 'seen', seq: 3 }), /payload\.status: must be "received" or "read"/);
      expectBad(ack({ seq: 3 }), 'payload.status');
    });
  });

  describe('builders', () => {
    it('fill in timestamp, and message_id where an answer is expected', () => {
      const send = clientFrame('send_message', { conversation_id: 'U1', content: 'hi', content_type: 'text' });
      expect(send.message_id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Date.parse(send.timestamp)).to.be.closeTo(Date.now(), 5000);
      expectGood(decodeClientFrame(JSON.stringify(send)));
      const typing = clientFrame('typing', { conversation_id: 'U1', is_typing: true });
      expect(typing).to.not.have.property('message_id');
      expectGood(decodeClientFrame(JSON.stringify(typing)));
      expect(clientFrame('join_room', { conversation_id: 'U1' }, ID).message_id).to.equal(ID);
    });
    it('build server frames that decode', () => {
      expectGood(decodeServerFrame(JSON.stringify(serverFrame('new_message', message as never))));
      expectGood(decodeServerFrame(JSON.stringify(serverFrame('error', errorPayload(4003, 'forbidden', { message_id: ID }), ID))));
      expectGood(decodeServerFrame(JSON.stringify(serverFrame('pong', {}))));
    });
    it('make distinct v4 UUIDs', () => {
      const ids = new Set(Array.from({ length: 1000 }, newMessageId));
      expect(ids.size).to.equal(1000);
    });
  });
}
