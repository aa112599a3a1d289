/**
 * The CPU lowering (src/program/lowering/nchwc.ts): the block size probe, the selector, the rewritten graph's
 * shape, and lowered graphs computing what the portable ones compute (float32 tolerance).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/graph/builder.js';
import type { Graph } from '../../src/graph/ir.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { buildModelDef } from '../../src/models/registry.js';
import { decodeModel, encodeModel } from '../../src/onnx/model.js';
import { defaultOptimizerSettings } from '../../src/optim/index.js';
import { compileGraphSet } from '../../src/program/compile.js';
import { blockSizeFromCpuinfo, nchwcBlockSize } from '../../src/program/lowering/block_size.js';
import { chooseCpuConv, lowerToNchwc, NCHWC_DOMAIN, type CpuConvShape } from '../../src/program/lowering/nchwc.js';
import { readFixture } from '../helpers/fixture_values.js';
import { seeded } from '../helpers/seeded.js';
import { fixtureCase, runTraining, runTrainLoop } from '../models/fixture_session.js';

const BLOCK = nchwcBlockSize();
const skip = BLOCK ? false : 'this machine has no NCHWc kernels (no AVX2/AVX-512)';

/** Every node of a graph and of its Loop bodies. */
const allNodes = (g: Graph): Graph['nodes'] =>
  g.nodes.flatMap((n) => [n, ...Object.values(n.attrs).flatMap((a) => (a.kind === 'graph' ? allNodes(a.value) : []))]);

const count = (g: Graph, opType: string, domain = '') => allNodes(g).filter((n) => n.opType === opType && n.domain === domain).length;

describe('NCHWc block size', () => {
  it('comes from the CPU flags: AVX-512F 16, AVX2 with FMA 8, else none', () => {
    assert.equal(blockSizeFromCpuinfo('processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw\n'), 16);
    assert.equal(blockSizeFromCpuinfo('flags\t: fpu sse2 avx avx2 fma\n'), 8);
    assert.equal(blockSizeFromCpuinfo('flags\t: fpu sse2 avx avx2\n'), 0);
    assert.equal(blockSizeFromCpuinfo('flags\t: fpu sse2 sse4_2 avx\n'), 0);
    assert.equal(blockSizeFromCpuinfo('Features\t: fp asimd\n'), 0);
  });

  it('is the block onnxruntime reorders into on this machine', { skip }, async () => {
    const b = new GraphBuilder('probe');
    const x = b.input('x', 'float32', [1, 4, 1, 1]);
    b.graph.nodes.push({ opType: 'ReorderInput', inputs: [x], outputs: ['y'], attrs: {}, name: 'reorder', domain: NCHWC_DOMAIN });
    b.graph.values.set('y', { name: 'y', dtype: 'float32', shape: undefined });
    b.output('y');
    b.graph.opsets.set(NCHWC_DOMAIN, 1);
    const s = await ort.InferenceSession.create(encodeModel(b.graph));
    const { y } = await s.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [1, 4, 1, 1]) });
    await s.release();
    assert.deepEqual(y.dims, [1, BLOCK, 1, 1]);
  });
});

describe('chooseCpuConv', () => {
  const conv = (C: number, M: number, more: Partial<CpuConvShape> = {}): CpuConvShape =>
    ({ C, M, kernel: [3, 3], strides: [1, 1], dilations: [1, 1], group: 1, ...more });
  it('blocks group-1 2-D convolutions whose channels are multiples of the block', () => {
    assert.equal(chooseCpuConv(conv(32, 64), 16), 'nchwc');
    assert.equal(chooseCpuConv(conv(16, 32, { kernel: [5, 5] }), 16), 'nchwc');
    assert.equal(chooseCpuConv(conv(8, 16), 8), 'nchwc');
    assert.equal(chooseCpuConv(conv(1, 32, { group: 32 }), 16), 'nchwc', 'depthwise');
    assert.equal(chooseCpuConv(conv(1, 32, { group: 32, strides: [2, 2] }), 16), 'nchwc', 'depthwise, stride 2');
  });
  it('keeps the standard Conv elsewhere', () => {
    assert.equal(chooseCpuConv(conv(32, 64), 0), 'standard', 'no NCHWc kernels');
    assert.equal(chooseCpuConv(conv(1, 32), 16), 'standard', 'fewer input channels than the block: measured slower');
    assert.equal(chooseCpuConv(conv(3, 32), 8), 'standard');
    assert.equal(chooseCpuConv(conv(32, 24), 16), 'standard', 'output channels not a multiple of the block');
    assert.equal(chooseCpuConv(conv(24, 32), 16), 'standard', 'input channels over the block, not a multiple');
    assert.equal(chooseCpuConv(conv(32, 32, { group: 2 }), 16), 'standard');
    assert.equal(chooseCpuConv(conv(1, 24, { group: 24 }), 16), 'standard', 'depthwise, channels not a multiple of the block');
    assert.equal(chooseCpuConv(conv(1, 32, { group: 32, dilations: [2, 2] }), 16), 'standard', 'dilated depthwise');
    assert.equal(chooseCpuConv(conv(32, 32, { kernel: [3] }), 16), 'standard', '1-D');
  });
});

describe('lowerToNchwc', () => {
  const set = compileGraphSet({ def: buildModelDef('complex-cnn'), optimizer: defaultOptimizerSettings('adam') });

  it('leaves the portable graphs standard ai.onnx and declares the NCHWc domain in the lowered ones', () => {
    const before = encodeModel(set.graph('train_loop'));
    const lowered = lowerToNchwc(set.graph('train_loop'), 16);
    assert.deepEqual(encodeModel(set.graph('train_loop')), before, 'the portable graph is unchanged');
    assert.deepEqual(decodeModel(before).opsetImports.map((o) => o.domain), ['']);
    assert.deepEqual(decodeModel(encodeModel(lowered)).opsetImports, [{ domain: '', version: 17 }, { domain: NCHWC_DOMAIN, version: 1 }]);
    assert.equal(allNodes(set.graph('train_loop')).filter((n) => n.domain !== '').length, 0);
  });

  it('runs complex-cnn forward and input-gradient convolutions blocked, the Relus fused, each activation reordered once', () => {
    const g = lowerToNchwc(set.graph('train_loop'), 16);
    // 3 forward convolutions (the first, on one channel, stays standard) + 3 input gradients (the first
    // layer needs none); dW stays a Gemm.
    assert.equal(count(g, 'Conv', NCHWC_DOMAIN), 6);
    assert.equal(count(g, 'Conv'), 1);
    const convs = allNodes(g).filter((n) => n.opType === 'Conv' && n.domain === NCHWC_DOMAIN);
    assert.equal(convs.filter((n) => n.attrs.activation?.value === 'Relu').length, 1, 'conv 3, the one blocked conv not followed by a pool');
    // The forward chain stays blocked from conv 2 on: conv 2 -> MaxPool -> Relu -> conv 3 (+Relu) -> conv 4 ->
    // MaxPool -> Relu. Reordered inputs: conv 2's (the standard conv 1's ReLU'd result) and the three output
    // gradients of the dX convolutions. Back to NCHW, for the backward pass and the classifier: conv 2's and
    // conv 4's results (the MaxPool gradients read them), the three ReLU'd values, the three dX results.
    assert.equal(count(g, 'MaxPool', NCHWC_DOMAIN), 2);
    assert.equal(count(g, 'MaxPool'), 0);
    assert.equal(count(g, 'ReorderInput', NCHWC_DOMAIN), 4);
    assert.equal(count(g, 'ReorderOutput', NCHWC_DOMAIN), 8);
    assert.equal(count(g, 'Relu'), count(set.graph('train_loop'), 'Relu') - 1);
    // Without blocked pooling (an A/B setting of scripts/bench_lowering.ts) pools and ReLUs stay NCHW, and
    // conv 3 needs its input reordered again.
    const nchwPools = lowerToNchwc(set.graph('train_loop'), 16, { blockedPooling: false });
    assert.equal(count(nchwPools, 'MaxPool', NCHWC_DOMAIN), 0);
    assert.equal(count(nchwPools, 'MaxPool'), 2);
    assert.equal(count(nchwPools, 'ReorderInput', NCHWC_DOMAIN), 5);
  });

  it('turns a stride-1 ConvTranspose into the flipped blocked Conv, and keeps the others', { skip }, async () => {
    const rand = seeded(3);
    const b = new GraphBuilder('ct');
    const x = b.input('x', 'float32', [2, 32, 6, 6]);
    const w = b.input('w', 'float32', [32, 16, 3, 3]);
    b.output(b.op1('ConvTranspose', [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }));
    b.output(b.op1('ConvTranspose', [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2], output_padding: [1, 1] }));
    const lowered = lowerToNchwc(b.graph, BLOCK);
    assert.equal(count(lowered, 'ConvTranspose'), 1);
    assert.equal(count(lowered, 'Conv', NCHWC_DOMAIN), 1);
    const feeds = {
      x: new ort.Tensor('float32', Float32Array.from({ length: 2 * 32 * 36 }, () => rand() - 0.5), [2, 32, 6, 6]),
      w: new ort.Tensor('float32', Float32Array.from({ length: 32 * 16 * 9 }, () => rand() - 0.5), [32, 16, 3, 3]),
    };
    const [a, l] = await Promise.all([b.graph, lowered].map(async (g) => (await ort.InferenceSession.create(encodeModel(g))).run(feeds)));
    for (const k of Object.keys(a)) assertNear(k, l[k].data as Float32Array, a[k].data as Float32Array, 1e-5);
  });

  it('runs depthwise convolutions (stride 1 and 2) and their stride-1 ConvTranspose blocked, as the standard ops compute them', { skip }, async () => {
    const rand = seeded(5);
    const C = 2 * BLOCK;
    const b = new GraphBuilder('dw');
    const x = b.input('x', 'float32', [2, C, 7, 7]);
    const w = b.input('w', 'float32', [C, 1, 3, 3]);
    const y1 = b.op1('Conv', [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: C });
    b.output(b.op1('Conv', [y1, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: C, strides: [2, 2] }));
    b.output(b.op1('ConvTranspose', [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: C }));
    b.output(b.op1('Conv', [x, w], { kernel_shape: [3, 3], pads: [0, 1, 2, 1], group: C }));
    const lowered = lowerToNchwc(b.graph, BLOCK);
    assert.equal(count(lowered, 'Conv', NCHWC_DOMAIN), 4);
    assert.equal(count(lowered, 'ConvTranspose'), 0);
    const feeds = {
      x: new ort.Tensor('float32', Float32Array.from({ length: 2 * C * 49 }, () => rand() - 0.5), [2, C, 7, 7]),
      w: new ort.Tensor('float32', Float32Array.from({ length: C * 9 }, () => rand() - 0.5), [C, 1, 3, 3]),
    };
    const [a, l] = await Promise.all([b.graph, lowered].map(async (g) => (await ort.InferenceSession.create(encodeModel(g))).run(feeds)));
    for (const k of Object.keys(a)) assertNear(k, l[k].data as Float32Array, a[k].data as Float32Array, 1e-5);
  });
});

/** Within `rel` of the reference's largest magnitude, and `floor` (a gradient that is 0 but for rounding). */
function assertNear(what: string, ours: Float32Array, ref: Float32Array, rel: number, floor = 0): void {
  assert.equal(ours.length, ref.length, `${what}: size`);
  const scale = Math.max(ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0), floor / rel) || 1;
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
  assert.ok(worst <= rel * scale, `${what}: differs by ${worst.toExponential(2)}, ${(worst / scale).toExponential(2)} of its scale (allowed ${rel})`);
}

const data = (t: Tensor) => t.data as Float32Array;

describe('lowered graphs compute what the portable ones compute', { skip }, () => {
  for (const name of ['basic-cnn', 'complex-cnn', 'basic-cnn-batchnorm', 'complex-cnn-residual']) {
    it(`${name}: loss and gradients (training), losses of 4 Adam steps and parameters after 2 (train_loop)`, async () => {
      const c = fixtureCase(readFixture(name));
      const [portable, cpu] = [await runTraining(c, 'portable'), await runTraining(c, 'cpu')];
      assertNear('loss', Float32Array.of(cpu.loss), Float32Array.of(portable.loss), 1e-6);
      // A convolution's bias before BatchNorm has an exact gradient of 0: both give rounding noise (~1e-8).
      for (const [p, g] of portable.grads) assertNear(`d loss / d ${p}`, data(cpu.grads.get(p)!), data(g), 2e-5, 1e-7);
      const [loopP, loopC] = [await runTrainLoop(c, 'adam', 4, 'portable'), await runTrainLoop(c, 'adam', 4, 'cpu')];
      assertNear('losses', Float32Array.from(loopC.losses), Float32Array.from(loopP.losses), 1e-5);
      // Adam divides each gradient by its own magnitude, so an element whose gradient is ~0 carries its
      // rounding into the update at full weight (a few 1e-3 of the change here); a wrong lowering is off by O(1).
      // Parameters whose gradient is rounding noise (a bias before BatchNorm) take random +-lr steps in both.
      // Parameters are compared after 2 steps: by the 4th step on this one repeated batch, a hidden unit whose
      // pre-activation sits at 0 can switch on in one graph and not the other (complex-cnn's classifier.1 row
      // 142: gradient 0 at step 1 in both, then +-lr steps), and Adam turns that into O(1) differences.
      const [twoP, twoC] = [await runTrainLoop(c, 'adam', 2, 'portable'), await runTrainLoop(c, 'adam', 2, 'cpu')];
      for (const [p, t] of twoP.params) {
        if (data(portable.grads.get(p)!).every((g) => Math.abs(g) < 1e-6)) continue;
        const w0 = data(c.weights.get(p)!);
        const change = (v: Float32Array) => v.map((x, i) => x - w0[i]);
        assertNear(`${p} after 2 steps`, change(data(twoC.params.get(p)!)), change(data(t)), 1e-2);
      }
      const set = compileGraphSet({ def: c.def, optimizer: defaultOptimizerSettings('adam') });
      const blocked = allNodes(set.graphFor('train_loop', 'cpu'));
      assert.ok(blocked.some((n) => n.domain === NCHWC_DOMAIN && n.opType === 'Conv'), 'the CPU graph has blocked convolutions');
      // Its weight gradients gather by output rows (GradTarget 'cpu'); the portable graph's do not.
      const gemms = (nodes: Graph['nodes']) => nodes.filter((n) => n.opType === 'Gemm' && n.name.includes('grad/Conv')).length;
      assert.ok(gemms(blocked) > 4 * gemms(allNodes(set.graph('train_loop'))), `dW Gemms: cpu ${gemms(blocked)}, portable ${gemms(allNodes(set.graph('train_loop')))}`);
    });
  }
});
