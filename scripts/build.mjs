// `npm run build`: the script-tag bundle, the ES module build with its types, and the server.
import { rmSync } from 'node:fs';
import { bin, steps } from './run.mjs';
import { formatSizes, sizesOf } from './sizes.mjs';

rmSync('dist', { recursive: true, force: true });
await steps([
  ['script-tag bundle: dist/live-chat.js', bin('vite'), ['build', '--logLevel', 'warn']],
  ['ES module build: dist/esm/', bin('vite'), ['build', '--mode', 'esm', '--logLevel', 'warn']],
  ['type declarations: dist/types/', bin('tsc'), ['-p', 'tsconfig.types.json']],
  ['server: dist/node/', bin('tsc'), ['-p', 'tsconfig.server.json']],
]);
console.log(`\ndist/live-chat.js: ${formatSizes(sizesOf('dist/live-chat.js'))}`);
