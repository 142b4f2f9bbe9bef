// The build step that takes comments and indentation out of the UI's css`…` and html`…`
// literals (scripts/minify-templates.mjs): it must change nothing a browser would render.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

interface Minifier {
  minifyCss(text: string): string;
  minifyHtml(text: string): string;
  minifyTemplatesIn(code: string): string;
}
const load = async () => (await import(pathToFileURL(join(root, 'scripts/minify-templates.mjs')).href)) as Minifier;

describe('minifying the UI templates', () => {
  it('CSS: comments go (an apostrophe in one too), whitespace is the least, quoted strings are kept as written', async () => {
    const { minifyCss } = await load();
    const css = `
      /* The page's direction, not the panel's. */
      :host([theme='dark']) .a > .b,
      .c:hover {
        font: 15px/1.4 system-ui, 'Segoe  UI', sans-serif;
        width: calc(100% - 2 * var(--x, 8px));
      }
      @media (max-width: 480px) { .a { inset: 0; } }
    `;
    assert.equal(
      minifyCss(css),
      ` :host([theme='dark']) .a > .b,.c:hover{font:15px/1.4 system-ui,'Segoe  UI',sans-serif;width:calc(100% - 2 * var(--x,8px));}@media (max-width:480px){.a{inset:0;}}`,
    );
  });

  it('HTML: a run of whitespace with a line break becomes one space; other whitespace stays', async () => {
    const { minifyHtml } = await load();
    assert.equal(minifyHtml('\n  <div class="a b">\n    <span>one</span>  <span>two</span>\n  </div>\n'), ' <div class="a b"> <span>one</span>  <span>two</span> </div> ');
  });

  it('touches only the static parts of css`` and html`` literals: not the expressions between them, not other strings', async () => {
    const { minifyTemplatesIn } = await load();
    const code = [
      'const a = html`',
      '  <p>${`keep\n   this`}</p>',
      '  ${cond ? html`<b>\n  x</b>` : "kept\\n   as is"}',
      '`;',
      'const b = css`a {\n  color: red; /* why */\n}`;',
      'const c = `plain\n   template`;',
      'const d = tag`other\n   tag`;',
    ].join('\n');
    assert.equal(
      minifyTemplatesIn(code),
      [
        'const a = html` <p>${`keep\n   this`}</p> ${cond ? html`<b> x</b>` : "kept\\n   as is"} `;',
        'const b = css`a{color:red;}`;',
        'const c = `plain\n   template`;',
        'const d = tag`other\n   tag`;',
      ].join('\n'),
    );
  });

  it('the script-tag bundle is built with it', () => {
    const bundle = readFileSync(join(root, 'dist/live-chat.js'), 'utf8');
    assert.match(bundle, /--live-chat-accent:#2563eb;/);
    assert.doesNotMatch(bundle, /The accent lightened/); // a comment in src/ui/styles.ts
  });
});
