import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

/**
 * The store DATABASE_URL names: `sqlite:PATH` or `sqlite::memory:` (one instance), or
 * `postgres://…` (shared by several instances; the migration runs before this resolves).
 */
export async function openStore(config: Pick<Config, 'databaseUrl' | 'sqliteBusyTimeoutMs' | 'databasePoolSize'>, log?: Logger): Promise<Store> {
  const { databaseUrl } = config;
  if (databaseUrl.startsWith('sqlite:')) {
    const path = databaseUrl.slice('sqlite:'.length);
    try {
      return new SqliteStore(path, config.sqliteBusyTimeoutMs);
    } catch (error) {
      throw new Error(`SQLite at ${path} (DATABASE_URL): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
  return PostgresStore.open(databaseUrl, {
    poolSize: config.databasePoolSize,
    onError: (error) => log?.warn({ err: error }, 'PostgreSQL connection lost; the pool reconnects on the next use'),
  });
}
