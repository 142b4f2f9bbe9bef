// The layout is the architecture: browser code and server code meet only in src/protocol/.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const src = join(root, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.ts$/.test(name) ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*['"]([^'"]+)['"]/g), ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g), ...text.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)];
  return found.map((m) => m[1]!);
}

/** The src/ folder an import lands in, or the package name for a bare specifier. */
function target(file: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier.startsWith('node:') ? 'node:' : specifier.split('/')[0]!;
  const landed = relative(src, resolve(dirname(file), specifier));
  return landed.startsWith('..') ? `outside:${landed}` : landed.split('/')[0]!.replace(/\.(js|ts)$/, '');
}

const part = (file: string) => relative(src, file).split('/')[0]!.replace(/\.ts$/, '');
const BROWSER = new Set(['client', 'outbox', 'ui', 'index']);

describe('architecture', () => {
  const files = sourceFiles(src);
  const edges = files.flatMap((file) => importsOf(file).map((specifier) => ({ file: relative(root, file), from: part(file), to: target(file, specifier), specifier })));

  it('finds the source and its imports (the check below is not vacuous)', () => {
    assert.ok(files.length > 10);
    assert.ok(edges.some((e) => e.from === 'server' && e.to === 'protocol'));
    assert.ok(edges.some((e) => e.from === 'ui' && e.to === 'lit'));
  });

  it('browser code imports neither the server nor Node built-ins', () => {
    const bad = edges.filter((e) => BROWSER.has(e.from) && (e.to === 'server' || e.to === 'node:' || ['ws', 'jose', 'pg', 'pino', 'ioredis', 'better-sqlite3'].includes(e.to)));
    assert.deepEqual(bad, []);
  });

  it('the server imports no browser code', () => {
    const bad = edges.filter((e) => e.from === 'server' && BROWSER.has(e.to));
    assert.deepEqual(bad, []);
  });

  it('the protocol imports only itself and zod', () => {
    const bad = edges.filter((e) => e.from === 'protocol' && e.to !== 'protocol' && e.to !== 'zod');
    assert.deepEqual(bad, []);
  });

  it('the socket client and the outbox do not import Lit (they work without the UI)', () => {
    const bad = edges.filter((e) => (e.from === 'client' || e.from === 'outbox') && (e.to === 'lit' || e.to === 'ui'));
    assert.deepEqual(bad, []);
  });
});
