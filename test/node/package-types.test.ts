// The package's type declarations as an importer's TypeScript sees them: through the `exports` of
// package.json, from a project of its own. The element's events must be typed there
// (`HTMLElementEventMap`), not only inside this repository's sources.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

/** What a page's script would write with the element, each line leaning on a type the package must give. */
const usage = `
const el = document.querySelector('live-chat')!;
el.addEventListener('live-chat-status', (e) => { const status: string = e.detail.status; void status; });
el.addEventListener('live-chat-message', (e) => { const text: string = e.detail.message.content; void text; });
el.addEventListener('live-chat-error', (e) => { const code: number = e.detail.code; const id: string | undefined = e.detail.message_id; void code; void id; });
el.addEventListener('live-chat-unread', (e) => { const count: number = e.detail.count; void count; });
el.addEventListener('live-chat-open', (e) => { const event: CustomEvent = e; void event; });
el.addEventListener('live-chat-close', (e) => { const event: CustomEvent = e; void event; });
el.tokenProvider = async () => 'token';
void el.send('hello');
el.toggle();
`;

describe('the package as a TypeScript importer sees it', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'live-chat-types-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules/live-chat'), 'dir');
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'esnext', moduleResolution: 'bundler', target: 'es2022', lib: ['es2022', 'dom'], skipLibCheck: true, types: [] } }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const check = (entry: string) => {
    writeFileSync(join(dir, 'page.ts'), `${entry}\n${usage}`);
    const run = spawnSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' });
    assert.equal(run.status, 0, `tsc on a page that writes ${entry}:\n${run.stdout}${run.stderr}`);
  };

  it("types the element and its events for `import 'live-chat/define'` (the side-effect entry)", () => check("import 'live-chat/define';"));
  it("types the element and its events for `import { defineLiveChat } from 'live-chat'`", () => check("import { defineLiveChat } from 'live-chat';\ndefineLiveChat();"));
});
