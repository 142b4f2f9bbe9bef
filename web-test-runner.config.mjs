// Browser tests: real headless Chromium (Debian's, or CHROME_PATH), TypeScript through esbuild.
import { writeFileSync } from 'node:fs';
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { chromeLauncher } from '@web/test-runner-chrome';
import { defaultReporter } from '@web/test-runner';
import { liveChatCommands } from './test/browser/server-commands.mjs';

const executablePath = process.env.CHROME_PATH || '/usr/bin/chromium';

/** Writes the pass/fail totals where scripts/test.mjs can add them to the closing line. */
function totalsReporter(file) {
  return {
    onTestRunFinished({ sessions }) {
      let passed = 0;
      let failed = 0;
      let skipped = 0;
      const walk = (suite) => {
        for (const test of suite?.tests ?? []) {
          if (test.skipped) skipped++;
          else if (test.passed) passed++;
          else failed++;
        }
        for (const child of suite?.suites ?? []) walk(child);
      };
      for (const session of sessions) {
        walk(session.testResults);
        // A file that failed to load has no test results but errors: count it as a failure.
        if (!session.testResults?.tests?.length && !session.testResults?.suites?.length && session.errors?.length) failed++;
      }
      if (file) writeFileSync(file, JSON.stringify({ passed, failed, skipped }));
    },
  };
}

/** `/test/slow?ms=N` answers after N ms (10 s at most): a page resource that holds the page's load event back. */
async function slowResource(context, next) {
  if (context.path !== '/test/slow') return next();
  await new Promise((resolve) => setTimeout(resolve, Math.min(Number(context.query.ms) || 0, 10_000)));
  context.status = 204;
}

export default {
  files: ['test/browser/**/*.test.ts'],
  nodeResolve: true,
  concurrency: 1,
  testFramework: { config: { timeout: 20000 } },
  browserStartTimeout: 60000,
  testsStartTimeout: 60000,
  testsFinishTimeout: 300000,
  middleware: [slowResource],
  plugins: [esbuildPlugin({ ts: true, target: 'es2022', tsconfig: 'tsconfig.browser.json' }), liveChatCommands()],
  browsers: [
    chromeLauncher({
      launchOptions: {
        executablePath,
        headless: true,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--disable-quic',
          '--no-first-run',
          '--disable-dev-shm-usage',
        ],
      },
    }),
  ],
  reporters: [defaultReporter(), totalsReporter(process.env.WTR_TOTALS_FILE)],
};
