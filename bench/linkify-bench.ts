// `npm run bench:linkify`: how long linkify() takes on texts built to make a link finder slow
// (runs of unopened brackets, of sentence punctuation, one long host), at growing lengths. Every
// render links every message shown, so the time per character must stay flat as the text grows:
// the trim that once went back over the link for each bracket took seconds at 4,000 characters.
import { linkify } from '../src/ui/linkify.js';

const shapes: Record<string, (n: number) => string> = {
  'unopened )': (n) => `https://a/${')'.repeat(n)}`,
  'dots, then )': (n) => `https://a/${'.'.repeat((2 * n) / 3)}x${')'.repeat(n / 3)}`,
  'long host': (n) => `https://${'a'.repeat(n)}`,
  'many links': (n) => 'see https://example.com/x. '.repeat(n / 27),
};
const LENGTHS = [1000, 2000, 4000, 8000];
const ROUNDS = 200;

console.log(`linkify, µs per call (mean of ${ROUNDS}), by text length:`);
console.log(`  ${'shape'.padEnd(14)}${LENGTHS.map((n) => String(n).padStart(9)).join('')}   8000 / 1000`);
for (const [name, make] of Object.entries(shapes)) {
  const perCall = LENGTHS.map((n) => {
    const text = make(n);
    for (let i = 0; i < ROUNDS; i++) linkify(text); // warm up the JIT
    const started = process.hrtime.bigint();
    for (let i = 0; i < ROUNDS; i++) linkify(text);
    return Number(process.hrtime.bigint() - started) / 1000 / ROUNDS;
  });
  const growth = perCall.at(-1)! / perCall[0]!;
  console.log(`  ${name.padEnd(14)}${perCall.map((us) => us.toFixed(1).padStart(9)).join('')}   ${growth.toFixed(1).padStart(6)}x (8x is linear)`);
}
