import { test } from 'node:test';
import { defaultOptimizerSettings } from '../../src/optim/index.js';
import { assertTrajectory, runTrajectory } from './harness.js';

/** Same tolerance as adam.test.ts: 1e-6 relative to each tensor's largest magnitude after 5 steps. */
const TOL = 1e-6;

const cases = [
  ['plain', defaultOptimizerSettings('rmsprop')],
  ['weight decay, alpha 0.9, eps 1e-3', defaultOptimizerSettings('rmsprop', { weightDecay: 0.1, alpha: 0.9, eps: 1e-3 })],
  ['momentum', defaultOptimizerSettings('rmsprop', { momentum: 0.9 })],
  ['centered', defaultOptimizerSettings('rmsprop', { centered: true })],
  ['centered with momentum and weight decay', defaultOptimizerSettings('rmsprop', { centered: true, momentum: 0.8, weightDecay: 0.05 })],
] as const;

for (const [label, settings] of cases) {
  test(`rmsprop ${label}: 5 steps match the PyTorch 1.13 reference`, async () => {
    assertTrajectory(await runTrajectory(settings, { lr: 1e-2, steps: 5 }), TOL);
  });
}
