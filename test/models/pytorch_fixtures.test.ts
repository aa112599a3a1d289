/**
 * Our graphs against PyTorch 1.13 on the same formula weights, batch and dropout masks
 * (test/fixtures/pytorch, written by scripts/make_fixtures.py): forward, backward and three optimizer
 * steps are asserted separately.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Tensor } from '../../src/graph/tensor.js';
import { assertClose, FLOAT32_NOISE, modelNoise, readFixture, type Comparison, type Tolerance } from '../helpers/fixture_values.js';
import { nchwcBlockSize } from '../../src/program/lowering/block_size.js';
import { fixtureCase, runTraining, runTrainLoop, runTrainSteps, type FixtureCase, type GraphPath, type StepResult } from './fixture_session.js';

const CASES = [
  'simple-mlp', 'medium-mlp', 'deep-mlp', 'medium-mlp-dropout',
  'basic-cnn', 'basic-cnn-batchnorm', 'complex-cnn', 'cifar10-cnn',
  // Variants: residual blocks (1x1 shortcuts); tanh, average pooling and 5x5 kernels;
  // leaky ReLU; sigmoid.
  'complex-cnn-residual', 'basic-cnn-tanh-avg-k5', 'basic-cnn-leaky-relu', 'medium-mlp-sigmoid',
];
const OPTIMIZERS = ['adam', 'sgd', 'rmsprop'] as const;

/**
 * Tolerances, relative to each tensor's scale (max |torch value|, or for parameters after the steps the
 * size of their change), on top of FLOAT32_NOISE x torch's own float32 error on that tensor (see
 * compareRecord). Losses use the same rule with |torch float32 - torch float64| as torch's error.
 */
const TOL = {
  /** Formula weights: the same float32 values (Math.sin and libm may differ in the last bit of a double). */
  initial: { rel: 1e-7 },
  loss: { rel: 1e-6 },
  logits: { rel: 1e-5 },
  /**
   * A convolution's bias gradient sums N*H*W (up to 6272) terms of both signs per channel, so its value is
   * much smaller than its terms and the summation order (ours: ReduceSum; torch: its own kernel) shows at
   * ~1.5e-5 of the value (cifar10-cnn features.7.bias; torch's own float32 error there is similar).
   * A convolution's bias before BatchNorm has an exact gradient of 0 (BatchNorm subtracts the channel
   * mean): both frameworks return rounding noise (~3e-8), which only the float32-error term bounds.
   */
  gradients: { rel: 3e-5 },
  buffers: { rel: 1e-5 },
  /**
   * Adam and RMSprop divide each gradient element by its own running magnitude, so an element whose
   * gradient at step 1 or 2 is small relative to the tensor's (cancellation) carries its float32 error
   * into the update at full weight: deep-mlp layers.8.weight differs by 2.3e-4 of its change after 3 Adam
   * steps while its gradients agree within 1e-6. A wrong update rule gives errors of order 1.
   * An element with |g| ~ eps gets a step of anywhere between 0 and lr (RMSprop: 10 lr, its first step is
   * lr g / sqrt(0.01 g^2)), and that changes the next gradients of every other tensor; so the float32
   * allowance after the steps is torch's worst relative error over the whole model (modelNoise). Example:
   * cifar10-cnn features.2.bias after 3 Adam steps is 45x torch's float32 error on that tensor away from
   * torch, while our gradients at torch's own parameters of each step agree within 2e-6. RMSprop at lr 1e-3
   * throws the CNNs' loss to ~30 by step 2, where torch float32 and float64 already differ by 2%
   * (cifar10-cnn: 32.23 vs 32.98; ours 32.98).
   */
  steps: { rel: 5e-4 },
} satisfies Record<string, Tolerance>;

/**
 * Largest errors seen per kind, printed as test diagnostics (the numbers the tolerances come from): relative
 * to the tensor's scale, and as a multiple of torch's own float32 error.
 */
const worst = new Map<string, { rel: number; vsTorch32: number }>();
function note(kind: string, c: Pick<Comparison, 'rel' | 'vsTorch32'>): void {
  const w = worst.get(kind) ?? { rel: 0, vsTorch32: 0 };
  worst.set(kind, { rel: Math.max(w.rel, c.rel), vsTorch32: Math.max(w.vsTorch32, c.vsTorch32) });
}

function assertLoss(what: string, ours: number, torch32: number, torch64: number, tol: Tolerance): void {
  const diff = Math.abs(ours - torch32);
  note(`${what.replace(/ step \d/, ' steps')} loss`, { rel: diff / Math.abs(torch32), vsTorch32: diff / Math.max(Math.abs(torch32 - torch64), 1e-30) });
  assert.ok(diff <= tol.rel * Math.abs(torch32) + FLOAT32_NOISE * Math.abs(torch32 - torch64),
    `${what}: loss ${ours} vs torch ${torch32} (float64 torch: ${torch64})`);
}

function assertSteps(c: FixtureCase, kind: (typeof OPTIMIZERS)[number], r: StepResult): void {
  const ref = c.fixture.optimizers[kind];
  r.losses.forEach((l, s) => assertLoss(`${kind} step ${s}`, l, ref.losses[s], ref.losses64[s], TOL.steps));
  assert.deepEqual([...r.params.keys()], Object.keys(ref.params));
  const noise = modelNoise(ref.params, c.weights);
  for (const [name, t] of r.params) {
    note(`${kind} params`, assertClose(`${kind} ${name}`, t, ref.params[name], TOL.steps, { base: c.weights.get(name), modelNoise: noise }));
  }
  assert.deepEqual([...r.buffers.keys()], Object.keys(ref.buffers));
  for (const [name, t] of r.buffers) note(`${kind} buffers`, assertClose(`${kind} ${name}`, t, ref.buffers[name], TOL.steps));
}

/** The convolutional cases run twice: as the portable graphs, and as a CPU session runs them (NCHWc lowering). */
const CONV_CASES = CASES.filter((name) => !name.includes('mlp'));
const RUNS: [string, GraphPath][] = [
  ...CASES.map((name) => [name, 'portable'] as [string, GraphPath]),
  ...(nchwcBlockSize() ? CONV_CASES.map((name) => [name, 'cpu'] as [string, GraphPath]) : []),
];

for (const [name, path] of RUNS) {
  describe(`pytorch fixture ${name}${path === 'cpu' ? ' (CPU graphs, NCHWc)' : ''}`, () => {
    let c: FixtureCase;
    let training: Awaited<ReturnType<typeof runTraining>>;
    before(async () => {
      c = fixtureCase(readFixture(name));
      training = await runTraining(c, path);
    });

    it('has our state_dict names, formula weights and dropout masks', () => {
      assert.deepEqual(c.sig.all.map((p) => p.name), Object.keys(c.fixture.initial));
      for (const p of c.sig.all) assertClose(`initial ${p.name}`, c.weights.get(p.name)!, c.fixture.initial[p.name], TOL.initial);
      assert.deepEqual(c.sig.noise.map((n) => n.name), Object.keys(c.fixture.noise));
      for (const [n, m] of c.masks) {
        assert.deepEqual(m.dims, c.fixture.noise[n].shape, `${n} shape`);
        assert.equal((m.data as Float32Array).filter((v) => v !== 0).length, c.fixture.noise[n].kept, `${n} kept entries`);
      }
    });

    it('forward: loss, logits and running statistics equal torch', () => {
      const f = c.fixture.forward;
      assertLoss('forward', training.loss, f.loss, f.loss64, TOL.loss);
      note('logits', assertClose('logits', training.logits, f.logits, TOL.logits));
      assert.deepEqual([...training.buffers.keys()], Object.keys(f.buffers));
      for (const [b, t] of training.buffers) note('running statistics', assertClose(b, t, f.buffers[b], TOL.buffers));
    });

    it('backward: every gradient equals torch', () => {
      assert.deepEqual([...training.grads.keys()], Object.keys(c.fixture.gradients));
      for (const [p, g] of training.grads) {
        note('gradients', assertClose(`d loss / d ${p}`, g, c.fixture.gradients[p], TOL.gradients));
      }
    });

    for (const kind of OPTIMIZERS) {
      it(`${kind}: losses and parameters over 3 train_step runs equal torch`, async () => {
        assertSteps(c, kind, await runTrainSteps(c, kind, c.fixture.steps, path));
      });
    }
  });
}

/** Tensors must be bit-identical. */
function assertSame(what: string, a: Map<string, Tensor>, b: Map<string, Tensor>): void {
  assert.deepEqual([...a.keys()], [...b.keys()], `${what} names`);
  for (const [name, t] of a) assert.deepEqual(t.data, b.get(name)!.data, `${what} ${name}`);
}

describe('train_loop.onnx', () => {
  for (const [name, kind] of [['medium-mlp-dropout', 'adam'], ['basic-cnn-batchnorm', 'sgd']] as const) {
    it(`${name}, ${kind}: 3 steps in one Loop run equal 3 train_step runs`, async () => {
      const c = fixtureCase(readFixture(name));
      const loop = await runTrainLoop(c, kind, 3);
      const step = await runTrainSteps(c, kind, 3);
      assert.deepEqual(loop.losses, step.losses);
      assertSame('params', loop.params, step.params);
      assertSame('state', loop.state, step.state);
      assertSame('buffers', loop.buffers, step.buffers);
      assertSteps(c, kind, loop);
    });
  }
});

describe('tolerance report', () => {
  it('records the largest relative errors', (t) => {
    for (const [kind, w] of worst) t.diagnostic(`${kind}: ${w.rel.toExponential(2)} of scale, ${w.vsTorch32.toFixed(1)}x torch's float32 error`);
    assert.ok(worst.size > 0);
  });
});
