import { spawn } from 'node:child_process';

/** Runs a command with inherited stdio; resolves with its exit code (never rejects). */
export function run(command, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', ...options });
    child.on('error', (error) => {
      console.error(`${command}: ${error.message}`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** Runs each step in turn and exits the process with the first failure's code. */
export async function steps(list) {
  for (const [label, command, args] of list) {
    console.log(`\n> ${label}`);
    const code = await run(command, args);
    if (code !== 0) {
      console.error(`\n${label} failed (exit ${code})`);
      process.exit(code);
    }
  }
}

export const bin = (name) => `node_modules/.bin/${name}`;
