import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ChatMessage } from '../../protocol/index.js';
import { nextCreatedAt, type AppendResult, type HistoryQuery, type HistoryResult, type NewMessage, type ReadPositions, type Store } from './store.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    last_created_at TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sender_id TEXT NOT NULL,
    sender_role TEXT NOT NULL,
    content TEXT NOT NULL,
    content_type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (conversation_id, seq)
  );
  CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY, checked_at TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS read_positions (
    conversation_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    read_seq INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
  );
`;

/** A messages row is a ChatMessage, column for field. */
type Row = ChatMessage;
const toMessage = (row: Row): ChatMessage => ({ ...row });

/**
 * The embedded store (better-sqlite3). WAL with synchronous=NORMAL: a commit survives the
 * process being killed (the WAL is in the OS's hands once written); only an OS crash or power
 * loss can lose the last commits. An ack is sent only after the commit returns.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly statements;
  /** Immediate: the write lock is taken before seq is read, so two writers can never pick the same seq. */
  private readonly appendInTransaction: (message: NewMessage) => AppendResult;
  /** A page and last_seq from one snapshot. */
  private readonly historyInTransaction: (conversationId: string, query: HistoryQuery) => HistoryResult;

  constructor(path: string, busyTimeoutMs = 1000) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`busy_timeout = ${Math.floor(busyTimeoutMs)}`);
    this.db.exec(SCHEMA);
    const db = this.db;
    this.statements = {
      find: db.prepare<[string], Row>('SELECT * FROM messages WHERE message_id = ?'),
      conversation: db.prepare<[string], { last_seq: number; last_created_at: string }>('SELECT last_seq, last_created_at FROM conversations WHERE id = ?'),
      upsertConversation: db.prepare(
        'INSERT INTO conversations (id, last_seq, last_created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, last_created_at = excluded.last_created_at',
      ),
      insert: db.prepare(
        'INSERT INTO messages (message_id, conversation_id, seq, sender_id, sender_role, content, content_type, created_at) VALUES (@message_id, @conversation_id, @seq, @sender_id, @sender_role, @content, @content_type, @created_at)',
      ),
      newest: db.prepare<[string, number], Row>('SELECT * FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?'),
      before: db.prepare<[string, number, number], Row>('SELECT * FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?'),
      after: db.prepare<[string, number, number], Row>('SELECT * FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?'),
      markRead: db.prepare(
        'INSERT INTO read_positions (conversation_id, user_id, read_seq) VALUES (?, ?, ?) ON CONFLICT (conversation_id, user_id) DO UPDATE SET read_seq = excluded.read_seq WHERE excluded.read_seq > read_positions.read_seq',
      ),
      ownRead: db.prepare<[string, string], { read_seq: number }>('SELECT read_seq FROM read_positions WHERE conversation_id = ? AND user_id = ?'),
      probe: db.prepare("INSERT INTO health (id, checked_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at"),
      peerRead: db.prepare<[string, string], { peer: number | null }>('SELECT MAX(read_seq) AS peer FROM read_positions WHERE conversation_id = ? AND user_id <> ?'),
    };
    this.appendInTransaction = db.transaction(this.appendTx).immediate;
    this.historyInTransaction = db.transaction(this.historyTx).deferred;
  }

  private readonly appendTx = (message: NewMessage): AppendResult => {
    const existing = this.statements.find.get(message.message_id);
    if (existing) return existing.conversation_id === message.conversation_id ? { kind: 'duplicate', message: toMessage(existing) } : { kind: 'conflict' };
    const conversation = this.statements.conversation.get(message.conversation_id);
    const seq = (conversation?.last_seq ?? 0) + 1;
    const created_at = nextCreatedAt(conversation?.last_created_at);
    this.statements.upsertConversation.run(message.conversation_id, seq, created_at);
    const stored: ChatMessage = { ...message, seq, created_at };
    this.statements.insert.run(stored);
    return { kind: 'stored', message: stored };
  };

  private readonly historyTx = (conversationId: string, query: HistoryQuery): HistoryResult => {
    const { limit } = query;
    const last_seq = this.statements.conversation.get(conversationId)?.last_seq ?? 0;
    // One row more than asked tells whether more exist beyond the page.
    let rows: Row[];
    if (query.after_seq !== undefined) rows = this.statements.after.all(conversationId, query.after_seq, limit + 1);
    else if (query.before_seq !== undefined) rows = this.statements.before.all(conversationId, query.before_seq, limit + 1).reverse();
    else rows = this.statements.newest.all(conversationId, limit + 1).reverse();
    const has_more = rows.length > limit;
    if (has_more) rows = query.after_seq !== undefined ? rows.slice(0, limit) : rows.slice(1);
    return { messages: rows.map(toMessage), has_more, last_seq };
  };

  async append(message: NewMessage): Promise<AppendResult> {
    return this.appendInTransaction(message);
  }

  async history(conversationId: string, query: HistoryQuery): Promise<HistoryResult> {
    return this.historyInTransaction(conversationId, query);
  }

  async find(messageId: string): Promise<ChatMessage | undefined> {
    const row = this.statements.find.get(messageId);
    return row && toMessage(row);
  }

  async markRead(conversationId: string, userId: string, seq: number): Promise<boolean> {
    return this.statements.markRead.run(conversationId, userId, seq).changes > 0;
  }

  async readPositions(conversationId: string, userId: string): Promise<ReadPositions> {
    return {
      read_seq: this.statements.ownRead.get(conversationId, userId)?.read_seq ?? 0,
      peer_read_seq: this.statements.peerRead.get(conversationId, userId)?.peer ?? 0,
    };
  }

  /** A write, not a read: a full disk or a lock held elsewhere refuses writes while reads still work. */
  async check(): Promise<void> {
    this.statements.probe.run(new Date().toISOString());
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
