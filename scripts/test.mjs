// `npm test`: type check, build, Node tests (node:test), browser tests (web-test-runner in Chromium).
// `npm test -- node` or `npm test -- browser` runs one half. Ends with one "N passed, N failed" line.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bin, run, steps } from './run.mjs';

const only = process.argv[2];
const wantNode = only !== 'browser';
const wantBrowser = only !== 'node';
const totals = { passed: 0, failed: 0, skipped: 0 };

await steps([
  ['type check (browser side)', bin('tsc'), ['-p', 'tsconfig.browser.json']],
  ['build', process.execPath, ['scripts/build.mjs']],
  ['type check and compile (Node side)', bin('tsc'), ['-p', 'tsconfig.json']],
]);
mkdirSync('build', { recursive: true });

if (wantNode) {
  const dir = 'build/test/node';
  const files = readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(dir, f));
  const tap = 'build/node-results.tap';
  console.log(`\n> Node tests (${files.length} files)`);
  const code = await run(process.execPath, [
    '--test',
    '--test-timeout=180000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ]);
  const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
  const count = (name) => Number(text.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0);
  const node = { passed: count('pass'), failed: count('fail') + count('cancelled'), skipped: count('skipped') + count('todo') };
  if (code !== 0 && node.failed === 0) node.failed = 1; // the runner itself failed
  add(node);
}

if (wantBrowser) {
  const file = 'build/browser-results.json';
  rmSync(file, { force: true });
  console.log('\n> browser tests (Chromium)');
  const code = await run(bin('wtr'), ['--config', 'web-test-runner.config.mjs'], { env: { ...process.env, WTR_TOTALS_FILE: file } });
  const browser = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { passed: 0, failed: 0, skipped: 0 };
  if (code !== 0 && browser.failed === 0) browser.failed = 1;
  add(browser);
}

function add(part) {
  for (const key of Object.keys(totals)) totals[key] += part[key];
}

console.log(`\n${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
process.exit(totals.failed || totals.passed === 0 ? 1 : 0);
