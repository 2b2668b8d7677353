#!/usr/bin/env node
// Fails when a TypeScript source file holds more than MAX lines of code (blank lines and
// comment-only lines aside): a file that long usually does several jobs (house style).
//   node scripts/check-file-size.mjs [dir=src] [max=500]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = process.argv[2] ?? 'src';
const max = Number(process.argv[3] ?? 500);

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

/** Lines that hold code: not blank, not inside or part of a comment. */
export function codeLines(text) {
  let n = 0;
  let inBlock = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (inBlock) {
      if (line.includes('*/')) {
        inBlock = false;
        if (line.slice(line.indexOf('*/') + 2).trim() !== '') n++;
      }
      continue;
    }
    if (line === '' || line.startsWith('//')) continue;
    if (line.startsWith('/*')) {
      if (!line.includes('*/')) inBlock = true;
      else if (line.slice(line.indexOf('*/') + 2).trim() !== '') n++;
      continue;
    }
    n++;
  }
  return n;
}

const over = [];
let count = 0;
for (const f of files(root)) {
  count++;
  const n = codeLines(readFileSync(f, 'utf8'));
  if (n > max) over.push(`${relative(process.cwd(), f)}: ${n} lines of code (max ${max})`);
}
if (over.length > 0) {
  console.error(`check-file-size: ${over.length} file(s) over ${max} lines of code:\n  ${over.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-file-size: ${count} files under ${root}, none over ${max} lines of code`);
