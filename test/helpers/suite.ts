import { after, before } from 'node:test';
import { startServer, type ServerProcess } from './server-process.js';
import { closeAllClients } from './ws-client.js';

/**
 * One server for the enclosing describe(): started before its tests, stopped (with every test
 * client) after them. The returned object stands for the running server.
 */
export function serverForSuite(env: Record<string, string> = {}): ServerProcess {
  let running: ServerProcess | undefined;
  before(async () => {
    running = await startServer(env);
  });
  after(async () => {
    await closeAllClients();
    await running?.stop();
  });
  return new Proxy({} as ServerProcess, {
    get(_, key) {
      if (!running) throw new Error('the suite server is not started yet (use it inside tests)');
      return running[key as keyof ServerProcess];
    },
  });
}
