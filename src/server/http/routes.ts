import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Hub } from '../session/hub.js';
import { serveDemo } from './demo.js';

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
};

/** Plain HTTP: health, metrics, and (only with DEMO=1) the demo pages and their tokens. */
export function createRequestHandler(hub: Hub) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
      if (url.pathname === '/healthz') {
        const problems = await healthProblems(hub);
        return json(res, problems.length ? 503 : 200, problems.length ? { ok: false, problems } : { ok: true });
      }
      if (url.pathname === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        return void res.end(hub.metrics.render());
      }
      if (hub.config.demo && (await serveDemo(hub, url, res))) return;
      json(res, 404, { error: 'not found' });
    } catch (error) {
      hub.log.error({ err: error, path: url.pathname }, 'request failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.destroy();
    }
  };
}

/**
 * What is wrong, in words fit for anyone who can reach the port: the store's own error (which can
 * name hosts, users and paths behind the server) goes to the log, not into the answer.
 */
async function healthProblems(hub: Hub): Promise<string[]> {
  const problems: string[] = [];
  try {
    await hub.store.check();
  } catch (error) {
    hub.log.warn({ err: error }, 'health check: the store does not take a write');
    problems.push('store: not taking writes');
  }
  if (!(await hub.bus.healthy())) problems.push('bus: not connected');
  return problems;
}
