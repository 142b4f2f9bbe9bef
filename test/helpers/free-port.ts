import { createServer } from 'node:net';

/**
 * Asks the kernel for an unused loopback port. There is an unavoidable race
 * between closing this listener and the caller binding the port, so helpers
 * that spawn servers retry with a fresh port on "address in use".
 */
export function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      if (addr === null || typeof addr === 'string') {
        server.close();
        reject(new Error(`unexpected listener address: ${String(addr)}`));
        return;
      }
      const { port } = addr;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/**
 * Starts something on a free port, trying a fresh port (up to 5 times) when another process
 * took the first between freePort() and the bind: the race freePort() cannot avoid.
 */
export async function launchOnFreePort<T>(launch: (port: number) => Promise<T>): Promise<{ port: number; launched: T }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return { port, launched: await launch(port) };
    } catch (err) {
      const inUse = err instanceof Error && /address already in use/i.test(err.message);
      if (!inUse || attempt >= 5) throw err;
    }
  }
}
