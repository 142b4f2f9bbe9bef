// Builds the protocol module twice, once against zod/mini (what it imports) and once with
// zod/mini aliased to the full zod, and prints both sizes: the numbers behind the choice of zod/mini.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';
import { formatSizes, sizesOf } from './sizes.mjs';

const out = mkdtempSync(join(tmpdir(), 'live-chat-zod-'));
try {
  for (const [name, alias] of [['zod/mini', {}], ['zod (classic)', { 'zod/mini': 'zod' }]]) {
    const dir = join(out, name.replace(/\W+/g, '-'));
    await build({
      configFile: false,
      logLevel: 'silent',
      resolve: { alias },
      build: { outDir: dir, lib: { entry: 'src/protocol/index.ts', formats: ['es'], fileName: () => 'protocol.js' } },
    });
    console.log(`protocol module with ${name.padEnd(14)} ${formatSizes(sizesOf(join(dir, 'protocol.js')))}`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
