import { test } from 'node:test';
import * as names from '../../src/graph/names.js';
import { defaultOptimizerSettings } from '../../src/optim/index.js';
import { assertTrajectory, PARAMS, rng, runTrajectory } from './harness.js';

/** Same tolerance as adam.test.ts: 1e-6 relative to each tensor's largest magnitude after 5 steps. */
const TOL = 1e-6;

const cases = [
  ['plain', defaultOptimizerSettings('sgd')],
  ['weight decay', defaultOptimizerSettings('sgd', { weightDecay: 0.1 })],
  ['momentum', defaultOptimizerSettings('sgd', { momentum: 0.9 })],
  ['momentum, dampening 0.3, weight decay', defaultOptimizerSettings('sgd', { momentum: 0.9, dampening: 0.3, weightDecay: 0.1 })],
  ['nesterov', defaultOptimizerSettings('sgd', { momentum: 0.9, nesterov: true })],
  ['nesterov with weight decay', defaultOptimizerSettings('sgd', { momentum: 0.5, nesterov: true, weightDecay: 0.05 })],
] as const;

for (const [label, settings] of cases) {
  test(`sgd ${label}: 5 steps match the PyTorch 1.13 reference`, async () => {
    assertTrajectory(await runTrajectory(settings, { lr: 1e-1, steps: 5 }), TOL);
  });
}

// PyTorch has no buffer before the first step and clones the gradient into one: whatever finite values
// the buffer input holds at step 0 must not leak into the update (the reference starts from zeros).
for (const dampening of [0, 0.3]) {
  test(`sgd momentum, dampening ${dampening}: the first step ignores a nonzero incoming buffer`, async () => {
    const next = rng(99);
    const junk = new Map(PARAMS.map((p) => [
      names.state(p.name, 'momentum_buffer'),
      Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => 5 * next()),
    ]));
    const settings = defaultOptimizerSettings('sgd', { momentum: 0.9, dampening });
    assertTrajectory(await runTrajectory(settings, { lr: 1e-1, steps: 5, initialState: junk }), TOL);
  });
}
