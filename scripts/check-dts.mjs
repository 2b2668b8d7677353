#!/usr/bin/env node
// Checks the published type declarations (dist/*.d.ts and dist/*.d.cts, made by
// `npm run build`): nothing tagged @internal is left in them (tsup's dts build strips it),
// and their doc comments carry no project jargon (the seed plan, BUG-n labels), which
// means nothing to a user reading them in an editor.
//   node scripts/check-dts.mjs [dir=dist]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'dist';
if (!existsSync(dir)) {
  console.error(`check-dts: ${dir}/ does not exist: run \`npm run build\` first`);
  process.exit(1);
}

const checks = [
  { what: 'project jargon', re: /\bseed\b|BUG-\d/i },
  { what: '@internal left in', re: /@internal\b/ },
];

const files = readdirSync(dir)
  .filter((n) => n.endsWith('.d.ts') || n.endsWith('.d.cts'))
  .sort();
if (files.length === 0) {
  console.error(`check-dts: no .d.ts or .d.cts files in ${dir}/: run \`npm run build\` first`);
  process.exit(1);
}

const problems = [];
for (const name of files) {
  const lines = readFileSync(join(dir, name), 'utf8').split('\n');
  lines.forEach((line, i) => {
    for (const { what, re } of checks) {
      if (re.test(line)) problems.push(`${dir}/${name}:${i + 1}: ${what}: ${line.trim()}`);
    }
  });
}
if (problems.length > 0) {
  console.error(
    `check-dts: ${problems.length} problem(s) in the published declarations:\n  ${problems.join('\n  ')}`,
  );
  process.exit(1);
}
console.log(`check-dts: ${files.length} declaration files in ${dir}/, no @internal, no project jargon`);
