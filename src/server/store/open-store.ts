import { ConfigError, type Config } from '../config.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

/** The store DATABASE_URL names: `sqlite:PATH` or `sqlite::memory:`. */
export async function openStore(config: Pick<Config, 'databaseUrl' | 'sqliteBusyTimeoutMs'>): Promise<Store> {
  const { databaseUrl } = config;
  if (databaseUrl.startsWith('sqlite:')) return new SqliteStore(databaseUrl.slice('sqlite:'.length), config.sqliteBusyTimeoutMs);
  throw new ConfigError(`DATABASE_URL: ${databaseUrl.split(':')[0]} is not supported by this build; use sqlite:PATH`);
}
