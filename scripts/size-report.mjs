// `npm run size:report`: where the script-tag bundle's bytes come from. Builds dist/live-chat.js
// again into a temporary folder with a source map, gives each stretch of the minified output to
// the source it came from, and prints raw and gzip bytes per part (gzip of a part alone is an
// estimate: parts compress a little better together). Then builds the bundle once more with
// server-frame validation cut out, which shows what the rest weighs on its own, and once with
// English alone, which shows what the other four languages weigh; last, Lit with and without
// its reactive base.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SourceMapConsumer } from 'source-map-js';
import { build } from 'vite';

const gzip = (text) => gzipSync(text, { level: 9 }).length;
const kib = (bytes) => `${(bytes / 1024).toFixed(2).padStart(6)} KiB`;

/** Which part a source belongs to: a package by name, or our own code by folder. */
const partOf = (source) =>
  /node_modules\/(@[^/]+\/[^/]+|[^/]+)\//.exec(source)?.[1].replace(/^@lit\/reactive-element$|^lit-(html|element)$/, 'lit') ??
  /src\/[^/]+/.exec(source)?.[0] ??
  'other';

async function bundle(dir, plugins = []) {
  await build({ logLevel: 'silent', plugins, build: { outDir: dir, emptyOutDir: true, sourcemap: true } });
  return join(dir, 'live-chat.js');
}

/** Splits the generated code at every mapping; each stretch belongs to the mapping it starts at. */
function attribute(file) {
  const code = readFileSync(file, 'utf8');
  const map = new SourceMapConsumer(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
  const lineStarts = [0];
  for (let i = 0; i < code.length; i++) if (code[i] === '\n') lineStarts.push(i + 1);
  const marks = [];
  map.eachMapping((m) => marks.push({ at: lineStarts[m.generatedLine - 1] + m.generatedColumn, part: m.source ? partOf(m.source) : 'other' }));
  marks.sort((a, b) => a.at - b.at);
  const parts = new Map();
  marks.forEach((mark, i) => {
    const text = code.slice(mark.at, marks[i + 1]?.at ?? code.length);
    parts.set(mark.part, (parts.get(mark.part) ?? '') + text);
  });
  return { code, parts };
}

const out = mkdtempSync(join(tmpdir(), 'live-chat-size-'));
try {
  const { code, parts } = attribute(await bundle(join(out, 'full')));
  console.log(`dist/live-chat.js        ${kib(code.length)} raw  ${kib(gzip(code))} gzip\n`);
  console.log('by part (gzip of each part alone):');
  for (const [part, text] of [...parts].sort((a, b) => b[1].length - a[1].length)) {
    console.log(`  ${part.padEnd(22)} ${kib(text.length)} raw  ${kib(gzip(text))} gzip`);
  }

  // The decoder replaced by a bare JSON.parse: the bundle as it would be with no validation at all.
  const stub = resolve('scripts/size/no-validation.ts');
  const noValidation = {
    name: 'no-validation',
    enforce: 'pre',
    resolveId: (id, importer) => (id.endsWith('/protocol/index.js') && importer !== stub ? stub : undefined),
  };
  const bare = readFileSync(await bundle(join(out, 'bare'), [noValidation]), 'utf8');
  console.log(`\nwithout validation       ${kib(bare.length)} raw  ${kib(gzip(bare))} gzip  (server frames taken as JSON.parse gives them)`);

  // Every language but English made English: what the four others weigh, were they loaded on demand.
  const englishOnly = {
    name: 'english-only',
    enforce: 'pre',
    transform: (code, id) => (id.endsWith('/src/ui/i18n.ts') ? code.replace(/^const (\w+): Strings = \{.*?^\};$/gms, 'const $1: Strings = en;') : undefined),
  };
  const english = readFileSync(await bundle(join(out, 'english'), [englishOnly]), 'utf8');
  if (english.length >= code.length) throw new Error('english-only: src/ui/i18n.ts no longer declares its languages as `const xx: Strings = {…};`');
  console.log(`English only             ${kib(english.length)} raw  ${kib(gzip(english))} gzip  (ja, th, zh-TW and id left out)`);

  // Lit as the widget imports it, against lit-html alone (templates without LitElement's reactive
  // base): what a hand-written element base would have to undercut.
  const litAlone = async (name, source) => {
    const dir = join(out, name);
    // The entry is written in this project (not the temporary folder) so that 'lit' resolves from its node_modules.
    const entry = resolve(`.size-${name}-entry.js`);
    writeFileSync(entry, source);
    try {
      await build({
        configFile: false,
        logLevel: 'silent',
        // Minified as the bundle is (a library build in ES format would keep its white space).
        build: { outDir: dir, emptyOutDir: false, target: 'es2022', minify: true, lib: { entry, formats: ['iife'], name: 'Measured', fileName: () => 'out.js' } },
      });
    } finally {
      rmSync(entry);
    }
    return gzip(readFileSync(join(dir, 'out.js'), 'utf8'));
  };
  const lit = await litAlone('lit', "export { LitElement, html, css, nothing } from 'lit'; export { keyed } from 'lit/directives/keyed.js';");
  const litHtml = await litAlone('lit-html', "export { html, render, nothing } from 'lit/html.js'; export { keyed } from 'lit/directives/keyed.js';");
  console.log(`\nLit as imported, alone    ${kib(lit)} gzip;  lit-html alone (no LitElement)  ${kib(litHtml)} gzip`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
