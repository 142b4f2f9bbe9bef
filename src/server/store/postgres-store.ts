import pg from 'pg';
import type { ChatMessage, Role } from '../../protocol/index.js';
import type { AppendResult, HistoryQuery, HistoryResult, NewMessage, ReadPositions, Store } from './store.js';

/** Any constant shared by every instance: the migration runs under this advisory lock, one instance at a time. */
const MIGRATION_LOCK = 7_412_094_311;

/** Idempotent: every instance runs it at start, serialised by the advisory lock. */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS conversations (
    id text PRIMARY KEY,
    last_seq integer NOT NULL,
    last_created_at timestamptz NOT NULL
  );
  CREATE TABLE IF NOT EXISTS messages (
    message_id text PRIMARY KEY,
    conversation_id text NOT NULL,
    seq integer NOT NULL,
    sender_id text NOT NULL,
    sender_role text NOT NULL,
    content text NOT NULL,
    content_type text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (conversation_id, seq)
  );
  CREATE TABLE IF NOT EXISTS read_positions (
    conversation_id text NOT NULL,
    user_id text NOT NULL,
    read_seq integer NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
  );
  CREATE TABLE IF NOT EXISTS health (
    id integer PRIMARY KEY,
    checked_at timestamptz NOT NULL
  );

  -- One append = one transaction, in one round trip (a statement calling this function runs in
  -- its own transaction): the message_id already stored → that message; else the conversation
  -- row's upsert takes the next seq and created_at (its row lock, held to COMMIT, orders the
  -- writers of one conversation on every instance) and the message is inserted. If the same
  -- message_id was committed meanwhile by another transaction (a retry on another instance), the
  -- insert does nothing and the function raises LC409: the whole transaction rolls back, so the
  -- seq it took is not used, and the caller reads the stored message.
  CREATE OR REPLACE FUNCTION live_chat_append(p_message_id text, p_conversation_id text, p_sender_id text, p_sender_role text, p_content text, p_content_type text)
  RETURNS TABLE (o_stored boolean, o_conversation_id text, o_seq integer, o_sender_id text, o_sender_role text, o_content text, o_content_type text, o_created_at timestamptz)
  LANGUAGE plpgsql AS $$
  DECLARE
    found_message messages%ROWTYPE;
    new_seq integer;
    new_created_at timestamptz;
  BEGIN
    SELECT * INTO found_message FROM messages WHERE messages.message_id = p_message_id;
    IF FOUND THEN
      RETURN QUERY SELECT false, found_message.conversation_id, found_message.seq, found_message.sender_id, found_message.sender_role,
        found_message.content, found_message.content_type, found_message.created_at;
      RETURN;
    END IF;
    INSERT INTO conversations AS c (id, last_seq, last_created_at) VALUES (p_conversation_id, 1, date_trunc('milliseconds', clock_timestamp()))
      ON CONFLICT (id) DO UPDATE SET last_seq = c.last_seq + 1, last_created_at = greatest(c.last_created_at, excluded.last_created_at)
      RETURNING c.last_seq, c.last_created_at INTO new_seq, new_created_at;
    INSERT INTO messages (message_id, conversation_id, seq, sender_id, sender_role, content, content_type, created_at)
      VALUES (p_message_id, p_conversation_id, new_seq, p_sender_id, p_sender_role, p_content, p_content_type, new_created_at)
      ON CONFLICT (message_id) DO NOTHING;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'message_id % was stored by a concurrent transaction', p_message_id USING ERRCODE = 'LC409';
    END IF;
    RETURN QUERY SELECT true, p_conversation_id, new_seq, p_sender_id, p_sender_role, p_content, p_content_type, new_created_at;
  END
  $$;
`;

/** Raised by live_chat_append when the same message_id was committed concurrently. */
const CONCURRENT_DUPLICATE = 'LC409';

const COLUMNS = 'message_id, conversation_id, seq, sender_id, sender_role, content, content_type, created_at';

/** A messages row: a ChatMessage whose created_at comes back as a Date. */
type Row = Omit<ChatMessage, 'created_at'> & { created_at: Date };

/** timestamptz comes back as a Date (millisecond precision: the store truncates to milliseconds). */
const toMessage = (row: Row): ChatMessage => ({
  message_id: row.message_id,
  conversation_id: row.conversation_id,
  seq: row.seq,
  sender_id: row.sender_id,
  sender_role: row.sender_role,
  content: row.content,
  content_type: row.content_type,
  created_at: row.created_at.toISOString(),
});

/** One statement, so the page and last_seq come from one snapshot; a conversation not stored yet gives last_seq 0 and no rows. */
const HISTORY_SQL = {
  after: `SELECT c.last_seq AS conversation_last_seq, m.* FROM (SELECT coalesce((SELECT last_seq FROM conversations WHERE id = $1), 0) AS last_seq) c
          LEFT JOIN LATERAL (SELECT ${COLUMNS} FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3) m ON true`,
  before: `SELECT c.last_seq AS conversation_last_seq, m.* FROM (SELECT coalesce((SELECT last_seq FROM conversations WHERE id = $1), 0) AS last_seq) c
           LEFT JOIN LATERAL (SELECT ${COLUMNS} FROM messages WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3) m ON true`,
  newest: `SELECT c.last_seq AS conversation_last_seq, m.* FROM (SELECT coalesce((SELECT last_seq FROM conversations WHERE id = $1), 0) AS last_seq) c
           LEFT JOIN LATERAL (SELECT ${COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2) m ON true`,
};

export interface PostgresStoreOptions {
  /** Connections in this instance's pool. */
  poolSize?: number;
  /** How long to wait for a new connection before the operation fails (4100, /healthz 503). */
  connectionTimeoutMs?: number;
  /** Longest a statement may run before PostgreSQL cancels it. */
  statementTimeoutMs?: number;
  /** Where pool errors go (an idle connection dropped by a restart): never thrown, never fatal. */
  onError?: (error: Error) => void;
}

/**
 * The store shared by several instances (node-postgres pool). Each append is one transaction in
 * one round trip (the `live_chat_append` function, created by the migration): the conversation
 * row's update assigns seq and created_at and its row lock serialises the writers of that
 * conversation across instances; the primary key on message_id makes a message_id stored once
 * across the whole store. An ack is sent only after the commit returns.
 */
export class PostgresStore implements Store {
  private readonly pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  /** Connects and runs the migration; retries while PostgreSQL is not reachable yet, up to `startTimeoutMs`. */
  static async open(url: string, options: PostgresStoreOptions & { startTimeoutMs?: number } = {}): Promise<PostgresStore> {
    const statementTimeoutMs = options.statementTimeoutMs ?? 5000;
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 2000,
      idleTimeoutMillis: 30_000,
      statement_timeout: statementTimeoutMs,
      // Client side too: a server that stops answering (not only refusing) must not hang a send.
      query_timeout: statementTimeoutMs + 1000,
      application_name: 'live-chat',
    });
    // An idle connection that PostgreSQL drops (restart, failover) is reported here; the pool replaces it.
    pool.on('error', (error) => options.onError?.(error));
    const store = new PostgresStore(pool);
    const deadline = Date.now() + (options.startTimeoutMs ?? 5000);
    for (;;) {
      try {
        await store.migrate();
        return store;
      } catch (error) {
        if (!isConnectionError(error) || Date.now() >= deadline) {
          await pool.end().catch(() => undefined);
          const where = describeUrl(url);
          throw new Error(`PostgreSQL at ${where} (DATABASE_URL): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private async migrate(): Promise<void> {
    await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query(SCHEMA);
    });
  }

  /** Runs `work` in a transaction on one pooled connection; a failed connection is destroyed, not reused. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    const client = await this.pool.connect();
    // A checked-out client has no listener of its own: a connection lost between two statements must not crash the process.
    let broken: Error | undefined;
    const onError = (error: Error) => (broken = error);
    client.on('error', onError);
    try {
      await client.query(begin);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A statement that timed out on the client side may still run on the server: never reuse that connection.
      if (error instanceof Error && /timeout/i.test(error.message)) broken ??= error;
      if (!broken) await client.query('ROLLBACK').catch((rollbackError: Error) => (broken ??= rollbackError));
      throw error;
    } finally {
      client.off('error', onError);
      // Destroy the connection after any failure: its state (an aborted transaction, a dead socket) is unknown.
      client.release(broken);
    }
  }

  async append(message: NewMessage): Promise<AppendResult> {
    let row: AppendRow;
    try {
      // A named statement: parsed once per pooled connection.
      const result = await this.pool.query<AppendRow>({ name: 'live-chat-append', text: 'SELECT * FROM live_chat_append($1, $2, $3, $4, $5, $6)' }, [
        message.message_id,
        message.conversation_id,
        message.sender_id,
        message.sender_role,
        message.content,
        message.content_type,
      ]);
      row = result.rows[0]!;
    } catch (error) {
      if ((error as { code?: unknown }).code !== CONCURRENT_DUPLICATE) throw error;
      const stored = await this.find(message.message_id);
      if (!stored) throw new Error(`message ${message.message_id} was reported as stored concurrently but is not stored`, { cause: error });
      return stored.conversation_id === message.conversation_id ? { kind: 'duplicate', message: stored } : { kind: 'conflict' };
    }
    if (row.o_conversation_id !== message.conversation_id) return { kind: 'conflict' };
    const stored: ChatMessage = {
      message_id: message.message_id,
      conversation_id: row.o_conversation_id,
      seq: row.o_seq,
      sender_id: row.o_sender_id,
      sender_role: row.o_sender_role,
      content: row.o_content,
      content_type: row.o_content_type,
      created_at: row.o_created_at.toISOString(),
    };
    return { kind: row.o_stored ? 'stored' : 'duplicate', message: stored };
  }

  async history(conversationId: string, query: HistoryQuery): Promise<HistoryResult> {
    const { limit } = query;
    // One row more than asked tells whether more exist beyond the page.
    let result;
    type HistoryRow = Row & { conversation_last_seq: number };
    if (query.after_seq !== undefined) result = await this.pool.query<HistoryRow>({ name: 'live-chat-after', text: HISTORY_SQL.after }, [conversationId, query.after_seq, limit + 1]);
    else if (query.before_seq !== undefined) result = await this.pool.query<HistoryRow>({ name: 'live-chat-before', text: HISTORY_SQL.before }, [conversationId, query.before_seq, limit + 1]);
    else result = await this.pool.query<HistoryRow>({ name: 'live-chat-newest', text: HISTORY_SQL.newest }, [conversationId, limit + 1]);
    const last_seq = result.rows[0]?.conversation_last_seq ?? 0;
    let rows = result.rows.filter((row) => row.message_id !== null);
    if (query.after_seq === undefined) rows.reverse();
    const has_more = rows.length > limit;
    if (has_more) rows = query.after_seq !== undefined ? rows.slice(0, limit) : rows.slice(1);
    return { messages: rows.map(toMessage), has_more, last_seq };
  }

  async find(messageId: string): Promise<ChatMessage | undefined> {
    const result = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM messages WHERE message_id = $1`, [messageId]);
    return result.rows[0] && toMessage(result.rows[0]);
  }

  async markRead(conversationId: string, userId: string, seq: number): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO read_positions AS r (conversation_id, user_id, read_seq) VALUES ($1, $2, $3)
       ON CONFLICT (conversation_id, user_id) DO UPDATE SET read_seq = excluded.read_seq WHERE excluded.read_seq > r.read_seq`,
      [conversationId, userId, seq],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async readPositions(conversationId: string, userId: string): Promise<ReadPositions> {
    const result = await this.pool.query<{ read_seq: number; peer_read_seq: number }>(
      `SELECT coalesce((SELECT read_seq FROM read_positions WHERE conversation_id = $1 AND user_id = $2), 0) AS read_seq,
              coalesce((SELECT max(read_seq) FROM read_positions WHERE conversation_id = $1 AND user_id <> $2), 0) AS peer_read_seq`,
      [conversationId, userId],
    );
    const row = result.rows[0]!;
    return { read_seq: row.read_seq, peer_read_seq: row.peer_read_seq };
  }

  /** A write, not a read: a primary that became a read-only standby, or a full disk, refuses writes while reads still work. */
  async check(): Promise<void> {
    await this.pool.query('INSERT INTO health (id, checked_at) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

interface AppendRow {
  o_stored: boolean;
  o_conversation_id: string;
  o_seq: number;
  o_sender_id: string;
  o_sender_role: Role;
  o_content: string;
  o_content_type: 'text';
  o_created_at: Date;
}

/** Refused, reset, unknown host, timeout, or PostgreSQL still starting up or shutting down: worth another try at start. */
function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (/^(ECONN|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)/.test(code) || code === '57P03' || code === '57P01')) return true;
  return error instanceof Error && /timeout|terminated|Connection terminated/i.test(error.message);
}

/** host:port/database, without the password. */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}
