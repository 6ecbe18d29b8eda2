// Checks that a file holds every line `<seq> …` for seq in 0..count-1 exactly once (a bitmap, so 5 million lines
// need 5 MB), as written by bench/agent.bench.ts. Prints a summary; exit status 1 when a line is missing.
import { createReadStream } from 'node:fs';

const [file, countText] = process.argv.slice(2);
const count = Number(countText);
const seen = new Uint8Array(count);
let total = 0;
let bad = 0;
let dup = 0;
let rest = '';
for await (const chunk of createReadStream(file, { encoding: 'latin1', highWaterMark: 1 << 20 })) {
  const text = rest + chunk;
  let from = 0;
  for (;;) {
    const nl = text.indexOf('\n', from);
    if (nl === -1) break;
    const seq = Number.parseInt(text.slice(from, from + 10), 10);
    total++;
    if (!(seq >= 0 && seq < count)) bad++;
    else if (seen[seq]) dup++;
    else seen[seq] = 1;
    from = nl + 1;
  }
  rest = text.slice(from);
}
let missing = 0;
for (let i = 0; i < count; i++) if (!seen[i]) missing++;
console.log(JSON.stringify({ file, expected: count, lines: total, missing, duplicates: dup, unparseable: bad }));
process.exit(missing > 0 || bad > 0 ? 1 : 0);
