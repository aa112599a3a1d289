import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildArtifacts } from '../../src/artifacts/build.js';
import { initialWeights } from '../../src/models/init.js';
import { buildModelDef } from '../../src/models/registry.js';
import { encodeModel } from '../../src/onnx/model.js';
import { defaultOptimizerSettings } from '../../src/optim/index.js';
import { compileGraphSet, GRAPH_NAMES } from '../../src/program/compile.js';

test('compileGraphSet builds each graph once, and build-graphs writes exactly those bytes', async () => {
  const set = compileGraphSet({ def: buildModelDef('basic-cnn', { dropout: 0.25 }), optimizer: defaultOptimizerSettings('adam') });
  assert.equal(set.graph('train_loop'), set.graph('train_loop'), 'memoised');
  assert.deepEqual(set.signature.noise.map((n) => n.name), ['classifier.3.noise']);
  const dir = join(mkdtempSync(join(tmpdir(), 'onnxtrain-compile-')), 'g');
  await buildArtifacts({ model: 'basic-cnn', options: { dropout: 0.25 }, outDir: dir });
  const metadata = { model: 'basic-cnn', options: JSON.stringify(set.settings.def.options) };
  for (const g of GRAPH_NAMES) {
    const graph = g === 'eval' ? set.evalWith(initialWeights(set.signature.all, 0)) : set.graph(g);
    assert.deepEqual(readFileSync(join(dir, `${g}.onnx`)), Buffer.from(encodeModel(graph, { metadata })), g);
  }
});

test('frozen parameters leave the trainable list and must exist', () => {
  const def = buildModelDef('simple-mlp');
  const set = compileGraphSet({ def, optimizer: defaultOptimizerSettings('sgd', { momentum: 0.9 }), frozen: ['layers.0.weight', 'layers.0.bias'] });
  assert.deepEqual(set.signature.trainable.map((p) => p.name), ['layers.2.weight', 'layers.2.bias']);
  assert.deepEqual(set.signature.slots, ['momentum_buffer']);
  assert.throws(() => compileGraphSet({ def, optimizer: defaultOptimizerSettings('adam'), frozen: ['nope'] }), /cannot freeze 'nope': simple-mlp has no parameter of that name/);
});
