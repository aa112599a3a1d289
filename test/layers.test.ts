/**
 * The architecture's one rule (README "Layout", DESIGN section 2): data flows one way, and no file imports
 * from a later stage. Folders are listed from the bottom up; an import may only point down the list.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';

const LAYERS = [
  'util', 'graph', 'ops', 'onnx', 'autodiff', 'nn', 'predict', 'data', 'report', 'models', 'import', 'optim',
  'program', 'artifacts', 'web', 'train', 'experiments', 'cli', 'datasets.ts', 'index.ts',
];
/** The graph builder infers each node's shape from the op table as it adds it (graph/builder.ts -> ops/). */
const ALLOWED_UP = new Set(['graph/builder.ts -> ops']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('no file in src/ imports from a later stage', () => {
  const src = join(process.cwd(), 'src');
  const wrong: string[] = [];
  for (const file of files(src)) {
    const from = relative(src, file);
    const layer = from.split('/')[0];
    assert.ok(LAYERS.includes(layer), `src/${layer} is not in the layer list: add it where it belongs`);
    for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const to = relative(src, normalize(join(dirname(file), m[1]))).split('/')[0].replace(/\.js$/, '.ts');
      if (to === layer || ALLOWED_UP.has(`${from} -> ${to}`)) continue;
      if (LAYERS.indexOf(to) > LAYERS.indexOf(layer)) wrong.push(`src/${from} imports ${m[1]} (${layer} -> ${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});
