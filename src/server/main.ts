/** `npm run serve`: reads the environment, starts the server, prints the ready line, stops cleanly on SIGTERM/SIGINT. */
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { startServer } from './server.js';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  console.error(`live-chat: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

const log = createLogger(config.logLevel);
try {
  const server = await startServer(config, log);
  // The one line on stdout: scripts and tests wait for it and read the real port from it.
  process.stdout.write(`live-chat listening on ${server.url}\n`);
  log.info({ url: server.url, database: config.databaseUrl.split(':')[0], demo: config.demo }, 'listening');

  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
} catch (error) {
  // Said on stderr whatever LOG_LEVEL is (silent included): the operator must learn why it did not start.
  console.error(`live-chat: ${error instanceof ConfigError ? '' : 'could not start: '}${error instanceof Error ? error.message : String(error)}`);
  if (!(error instanceof ConfigError)) log.fatal({ err: error }, 'could not start');
  process.exit(1);
}
