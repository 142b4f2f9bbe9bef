// A storage failure (here: another process holding the SQLite write lock, as a backup or a
// migration would) is answered with 4100, stores nothing, shows in /healthz, and heals.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ErrorCode, newMessageId } from '../../src/protocol/index.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { closeAllClients, is, joinedPair, sleep } from '../helpers/ws-client.js';

describe('server storage failure', () => {
  let server: ServerProcess;
  let dir: string;
  let dbPath: string;

  before(async () => {
    dir = await makeTempDir('live-chat-storage-');
    dbPath = join(dir, 'chat.db');
    server = await startServer({ DATABASE_URL: `sqlite:${dbPath}`, SQLITE_BUSY_TIMEOUT_MS: '200' });
  });
  after(async () => {
    await closeAllClients();
    await server?.stop();
    await removeTempDir(dir);
  });

  const pair = () => joinedPair(server.wsUrl);

  /** Holds the database's write lock from this process until the returned function is called. */
  function lockDatabase(): () => void {
    const other = new Database(dbPath);
    other.exec('BEGIN EXCLUSIVE');
    return () => {
      other.exec('ROLLBACK');
      other.close();
    };
  }

  it('answers a send with 4100 SERVER_ERROR (retryable, with its message_id), broadcasts nothing, and keeps the connection', async () => {
    const { conv, user, agent } = await pair();
    assert.equal((await user.sendMessage(conv, 'before the failure')).payload.seq, 1);
    await agent.next(is.newMessage(conv));

    const release = lockDatabase();
    let failed;
    const id = newMessageId();
    try {
      failed = await user.sendMessage(conv, 'during the failure', id);
    } finally {
      release();
    }
    assert.equal(failed.type, 'error', JSON.stringify(failed));
    assert.deepEqual(
      { code: failed.payload.code, reason: failed.payload.reason, retryable: failed.payload.retryable, message_id: failed.payload.message_id },
      { code: ErrorCode.SERVER_ERROR, reason: 'SERVER_ERROR', retryable: true, message_id: id },
    );
    assert.deepEqual(await agent.collect(is.newMessage(conv), 300), [], 'nothing is broadcast for a message that was not stored');

    // Nothing half-stored: the retry with the same id takes the next seq, with no gap, once.
    const retry = await user.sendMessage(conv, 'during the failure', id);
    assert.equal(retry.type, 'message_ack', JSON.stringify(retry));
    assert.equal(retry.payload.seq, 2);
    const delivered = await agent.next(is.newMessage(conv));
    assert.equal(delivered.payload.message_id, id);
    assert.equal(delivered.payload.seq, 2);
    const page = await user.history({ conversation_id: conv });
    assert.deepEqual(page.payload.messages.map((m: { seq: number }) => m.seq), [1, 2]);
  });

  it('reports 503 on /healthz while the store refuses writes, with the store\'s own error in the log only, and 200 once it is back', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const release = lockDatabase();
    try {
      const res = await fetch(`${server.url}/healthz`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { ok: false, problems: ['store: not taking writes'] });
      const logged = /"message":"database is locked".*"msg":"health check: the store does not take a write"/;
      for (let waited = 0; !logged.test(server.stderr) && waited < 2000; waited += 20) await sleep(20);
      assert.match(server.stderr, logged, 'the store\'s own error is logged');
    } finally {
      release();
    }
    await sleep(50);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it('does not count a refused send against the rate limit', async () => {
    const { conv, user } = await pair();
    const release = lockDatabase();
    try {
      for (let i = 0; i < 3; i++) assert.equal((await user.sendMessage(conv, `refused ${i}`)).payload.code, ErrorCode.SERVER_ERROR);
    } finally {
      release();
    }
    // 30 accepted sends still fit in the minute after 3 refused ones.
    for (let i = 0; i < 30; i++) assert.equal((await user.sendMessage(conv, `accepted ${i}`)).type, 'message_ack');
    assert.equal((await user.sendMessage(conv, 'one too many')).payload.code, ErrorCode.RATE_LIMITED);
  });
});
