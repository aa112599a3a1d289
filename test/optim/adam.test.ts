import { test } from 'node:test';
import { defaultOptimizerSettings } from '../../src/optim/index.js';
import { assertTrajectory, runTrajectory } from './harness.js';

/**
 * Tolerance: after 5 steps every parameter and state tensor is within 1e-6 of the float64 reference,
 * relative to that tensor's largest magnitude (float32 rounding measures about 1.5e-7). With lr 1e-2 the
 * parameters move about 5e-2, so a formula error above ~2e-5 of the update fails.
 */
const TOL = 1e-6;

const cases = [
  ['plain', defaultOptimizerSettings('adam')],
  ['L2 weight decay and a large eps', defaultOptimizerSettings('adam', { weightDecay: 0.1, eps: 1e-2 })],
  ['other betas', defaultOptimizerSettings('adam', { betas: [0.5, 0.9] })],
  ['AdamW, default decay 0.01', defaultOptimizerSettings('adamw')],
  ['AdamW, decay 0.3 and eps 1e-3', defaultOptimizerSettings('adamw', { weightDecay: 0.3, eps: 1e-3 })],
  ['AdamW without decay', defaultOptimizerSettings('adamw', { weightDecay: 0 })],
] as const;

for (const [label, settings] of cases) {
  test(`${settings.kind} ${label}: 5 steps match the PyTorch 1.13 reference`, async () => {
    assertTrajectory(await runTrajectory(settings, { lr: 1e-2, steps: 5 }), TOL);
  });
}
