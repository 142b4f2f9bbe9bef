import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { ID_PATTERN } from '../../protocol/index.js';
import type { Hub } from '../session/hub.js';

/** The repository root, from dist/node/server/http/ (built) or src/server/http/ (either way four levels up). */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' };
const TOKEN_LIFETIME_S = 3600;

/** Demo only (DEMO=1): tokens for anyone who asks, so never on unless asked. Returns false when the path is not a demo path. */
export async function serveDemo(hub: Hub, url: URL, res: ServerResponse): Promise<boolean> {
  if (url.pathname === '/demo/token') {
    const sub = url.searchParams.get('sub') ?? '';
    const role = url.searchParams.get('role') ?? 'user';
    if (!ID_PATTERN.test(sub) || (role !== 'user' && role !== 'agent')) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'sub must be 1–128 characters of A–Z a–z 0–9 _ . : @ -, role user or agent' }));
      return true;
    }
    const exp = Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_S;
    const token = await new SignJWT({ role }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime(exp)
      .sign(new TextEncoder().encode(hub.config.jwtSecret));
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ token, expires_at: new Date(exp * 1000).toISOString() }));
    return true;
  }
  if (url.pathname === '/' || url.pathname === '/demo') {
    res.writeHead(302, { location: '/demo/' });
    res.end();
    return true;
  }
  const file = url.pathname === '/live-chat.js' ? join(ROOT, 'dist/live-chat.js') : demoFile(url.pathname);
  if (!file) return false;
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(body);
    return true;
  } catch {
    return false;
  }
}

/** A file under demo/, never outside it. */
function demoFile(pathname: string): string | undefined {
  if (!pathname.startsWith('/demo/')) return undefined;
  const relative = normalize(decodeURIComponent(pathname.slice('/demo/'.length)) || 'index.html');
  if (relative.startsWith('..') || relative.includes('\0')) return undefined;
  return join(ROOT, 'demo', relative.endsWith('/') ? `${relative}index.html` : relative);
}
