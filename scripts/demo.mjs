// `npm start`: builds, then runs the server with embedded defaults (SQLite in ./data, in-process bus)
// and the demo pages on, and prints where to open them. Ctrl-C stops it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { steps } from './run.mjs';

await steps([['build', process.execPath, ['scripts/build.mjs']]]);

const env = {
  PORT: '8080',
  DATABASE_URL: 'sqlite:./data/live-chat.db',
  ...process.env,
  DEMO: '1',
  // A fresh secret per run is fine for a demo: its tokens come from /demo/token.
  JWT_SECRET: process.env.JWT_SECRET || randomBytes(32).toString('hex'),
};
const server = spawn(process.execPath, ['dist/node/server/main.js'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
server.stdout.on('data', (chunk) => {
  const match = /live-chat listening on (\S+)/.exec(String(chunk));
  if (!match) return;
  console.log(`\nlive-chat demo is running.\n  visitor page: ${match[1]}/demo/\n  agent view:   ${match[1]}/demo/agent.html\nPress Ctrl-C to stop.\n`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill('SIGTERM'));
server.on('exit', (code) => process.exit(code ?? 0));
