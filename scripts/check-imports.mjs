#!/usr/bin/env node
/**
 * Import-graph check run by `npm run lint`: fails on import cycles and on imports that go
 * against the layers (see LAYER_RULES). Usage: `node scripts/check-imports.mjs [root]`
 * (root defaults to `src`). Exit 0 = clean, 1 = violations (each printed with the files
 * involved), 2 = bad usage.
 *
 * What counts as an import: the relative specifiers (`./`, `../`) of every `.ts` file under
 * root, in `import … from`, `export … from`, side-effect `import '…'` and dynamic
 * `import('…')`, with comments stripped first. `.js` resolves to `.ts` (NodeNext style);
 * a bare `./dir` to `./dir.ts` or `./dir/index.ts`. Package imports are not checked.
 *
 * Type-only imports (`import type`, `export type`) count for both checks, on purpose:
 * - layers: a type import still couples the lower layer to the higher one's model;
 * - cycles: they cause no load-order hazard at run time, but a cycle of types is still two
 *   files that can only be read (and moved) together. The transport ↔ transport-stream
 *   cycle this check was written for was type-only. A cycle made only of type imports is
 *   labelled `(type-only)` in the report, so the fix (move the shared types to their own
 *   file, as `src/sip/flow.ts` did) is obvious.
 *
 * Cycles are reported once per strongly connected component, with one shortest concrete
 * path through it (`a.ts -> b.ts -> a.ts`).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Layer rules, by directory relative to root: files under `from` must not import anything
 * under one of `banned`.
 */
export const LAYER_RULES = [
  { from: 'sip', banned: ['rtp', 'livekit', 'codec'] },
  { from: 'rtp', banned: ['sip', 'livekit'] },
  { from: 'codec', banned: ['sip', 'livekit'] },
  { from: 'sdp', banned: ['sip', 'rtp', 'livekit'] },
];

/** Replaces comments with spaces (keeps offsets), leaving string and template literals intact. */
export function stripComments(src) {
  let out = '';
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i];
    const d = src[i + 1];
    if (c === '/' && d === '/') {
      while (i < n && src[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (c === '/' && d === '*') {
      const close = src.indexOf('*/', i + 2);
      const stop = close < 0 ? n : close + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < n && src[j] !== c) {
        if (src[j] === '\\') j++;
        else if (c !== '`' && src[j] === '\n') break; // unterminated: stop at the line end
        j++;
      }
      out += src.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

// An import clause holds only identifiers, `type`, `as`, `*`, braces, commas and spaces:
// the character class keeps a lazy match from running into the next statement.
const STATIC_IMPORT = /\bimport\s+(type\s+)?[\w$\s{},*]*?\bfrom\s*(['"])([^'"\n]+)\2/g;
const STATIC_EXPORT = /\bexport\s+(type\s+)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})\s*from\s*(['"])([^'"\n]+)\2/g;
const SIDE_EFFECT_IMPORT = /\bimport\s*(['"])([^'"\n]+)\1/g;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g;

/** The specifiers a module imports: `{ spec, typeOnly, line }` for each, relative ones only. */
export function importSpecifiers(source) {
  const code = stripComments(source);
  const lineOf = (index) => code.slice(0, index).split('\n').length;
  const found = [];
  const add = (spec, typeOnly, index) => {
    if (spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..') {
      found.push({ spec, typeOnly, line: lineOf(index) });
    }
  };
  for (const m of code.matchAll(STATIC_IMPORT)) add(m[3], m[1] !== undefined, m.index);
  for (const m of code.matchAll(STATIC_EXPORT)) add(m[3], m[1] !== undefined, m.index);
  for (const m of code.matchAll(SIDE_EFFECT_IMPORT)) add(m[2], false, m.index);
  for (const m of code.matchAll(DYNAMIC_IMPORT)) add(m[2], false, m.index);
  return found;
}

function listTsFiles(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) listTsFiles(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The file a relative specifier names (absolute path; may not exist). */
function resolveSpecifier(fromFile, spec) {
  const base = resolve(dirname(fromFile), spec);
  if (/\.(m|c)?js$/.test(base)) return base.replace(/\.(m|c)?js$/, (ext) => ext.replace('js', 'ts'));
  if (base.endsWith('.ts')) return base;
  if (existsSync(`${base}.ts`)) return `${base}.ts`;
  if (existsSync(join(base, 'index.ts'))) return join(base, 'index.ts');
  return base;
}

/** First path segment below root (`sip` for `root/sip/x.ts`), or undefined outside root. */
function layerOf(root, file) {
  const rel = relative(root, file);
  if (rel.startsWith('..') || rel === '') return undefined;
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : undefined;
}

/** Tarjan's strongly connected components; returns those that hold a cycle. */
function cyclicComponents(nodes, edges) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const comps = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), idx.get(w)));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || edges.get(v)?.has(v)) comps.push(comp.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) strong(v);
  return comps;
}

/** Shortest cycle through `start` inside one component (BFS), as a closed path. */
function shortestCycle(start, comp, edges) {
  const inComp = new Set(comp);
  const prev = new Map([[start, undefined]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!inComp.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = prev.get(u)) path.splice(1, 0, u);
        path.push(start);
        return path;
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/**
 * Checks the tree under `rootDir`. Returns `{ files, cycles, layers }` where each cycle is
 * `{ path: string[], typeOnly: boolean }` and each layer violation
 * `{ file, line, target, from, banned }` (paths absolute).
 */
export function checkImports(rootDir) {
  const root = resolve(rootDir);
  const files = listTsFiles(root);
  const known = new Set(files);
  /** file → (target → typeOnly for every import of it) */
  const edges = new Map();
  const layers = [];
  for (const file of files) {
    const targets = new Map();
    const fromLayer = layerOf(root, file);
    const rules = LAYER_RULES.filter((r) => r.from === fromLayer);
    for (const { spec, typeOnly, line } of importSpecifiers(readFileSync(file, 'utf8'))) {
      const target = resolveSpecifier(file, spec);
      const toLayer = layerOf(root, target);
      for (const rule of rules) {
        if (toLayer !== undefined && rule.banned.includes(toLayer)) {
          layers.push({ file, line, target, from: rule.from, banned: toLayer });
        }
      }
      if (known.has(target)) targets.set(target, (targets.get(target) ?? true) && typeOnly);
    }
    edges.set(file, targets);
  }
  const cycles = cyclicComponents(files, edges).map((comp) => {
    const path = shortestCycle(comp[0], comp, edges);
    let typeOnly = true;
    for (let i = 0; i + 1 < path.length; i++) typeOnly &&= edges.get(path[i]).get(path[i + 1]);
    return { path, typeOnly, size: comp.length };
  });
  return { files, cycles, layers };
}

function main(argv) {
  const rootArg = argv[2] ?? 'src';
  if (argv.length > 3 || rootArg.startsWith('-')) {
    console.error('usage: node scripts/check-imports.mjs [root-dir]   (default: src)');
    return 2;
  }
  if (!existsSync(rootArg) || !statSync(rootArg).isDirectory()) {
    console.error(`check-imports: ${rootArg} is not a directory`);
    return 2;
  }
  const show = (p) => relative(process.cwd(), p).split(sep).join('/');
  const rootShown = show(resolve(rootArg)) || '.';
  const { files, cycles, layers } = checkImports(rootArg);
  const problems = [];
  for (const c of cycles) {
    const more = c.size > c.path.length - 1 ? ` (${c.size} files are tangled in this cycle)` : '';
    problems.push(`import cycle${c.typeOnly ? ' (type-only)' : ''}: ${c.path.map(show).join(' -> ')}${more}`);
  }
  for (const v of layers) {
    problems.push(
      `layer violation: ${show(v.file)}:${v.line} imports ${show(v.target)}` +
        ` (${rootShown}/${v.from}/ must not import ${rootShown}/${v.banned}/)`,
    );
  }
  if (problems.length === 0) {
    console.log(`check-imports: ${files.length} files under ${rootShown}, no cycles, layers respected`);
    return 0;
  }
  console.error(`check-imports: ${problems.length} problem(s) under ${rootShown}`);
  for (const p of problems) console.error(`  ${p}`);
  console.error(
    '  Layers point one way: move shared types to their own file, ' +
      'or report upward through a callback interface.',
  );
  return 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv);
}
